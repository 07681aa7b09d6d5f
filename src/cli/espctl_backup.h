/* espctl's backup, backup verify and restore commands (espctl_backup.c). */
#ifndef ESPCTL_BACKUP_H
#define ESPCTL_BACKUP_H

#include "esp/config.h"

/* `backup FILE`, `backup verify FILE`; argv starts after "backup". */
int cmd_backup(struct esp_config *cfg, int argc, char **argv);
/* `restore FILE`; argv starts after "restore". */
int cmd_restore(struct esp_config *cfg, int argc, char **argv);

#endif
