/*
 * pdf_bench: renders the application form PDF N times in one long-running
 * process (fonts loaded once, as in espd) and prints forms/s and the median
 * and p95 milliseconds per form (wall clock), and the median CPU time per
 * form (the rendering thread's own: on a shared machine the wall clock also
 * counts time spent waiting for a CPU), and the rendering threads' context
 * switches: voluntary ones are waits (I/O, a lock), involuntary ones are
 * the scheduler giving the CPU to another process. Wall well above CPU with
 * no voluntary switch is a shared CPU, not the renderer.
 *
 *   pdf_bench [-n N] [-t THREADS] [-p] [-o last.pdf]
 *     -p  the personal form instead of the unit form
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "esp/appform.h"
#include "sample_form.h"

struct worker {
	const struct appform *form;
	int n;
	double *ms;  /* n durations */
	double *cpu; /* n CPU times of the thread */
	size_t bytes;
	int failures;
	long voluntary, involuntary; /* context switches while rendering */
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double thread_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->n; i++) {
		unsigned char *pdf = NULL;
		size_t len = 0;
		struct rusage u0, u1;
		getrusage(RUSAGE_THREAD, &u0);
		double c0 = thread_cpu_ms();
		double t0 = now_ms();
		if (appform_pdf(w->form, &pdf, &len) != 0)
			w->failures++;
		w->ms[i] = now_ms() - t0;
		w->cpu[i] = thread_cpu_ms() - c0;
		getrusage(RUSAGE_THREAD, &u1);
		w->voluntary += u1.ru_nvcsw - u0.ru_nvcsw;
		w->involuntary += u1.ru_nivcsw - u0.ru_nivcsw;
		w->bytes = len;
		free(pdf);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sorts v. */
static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int n = 200, threads = 1, opt;
	const char *out = NULL;
	const struct appform *form = &bench_unit_form;
	while ((opt = getopt(argc, argv, "n:t:po:")) != -1) {
		switch (opt) {
		case 'n':
			n = atoi(optarg);
			break;
		case 't':
			threads = atoi(optarg);
			break;
		case 'p':
			form = &bench_person_form;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-n N] [-t THREADS] [-p] [-o last.pdf]\n",
			        argv[0]);
			return 2;
		}
	}
	if (n < 1 || threads < 1 || threads > 64) {
		fprintf(stderr, "pdf_bench: bad -n or -t\n");
		return 2;
	}

	double t0 = now_ms();
	appform_init();
	double init_ms = now_ms() - t0;

	/* One form outside the measurement: first-use costs of a fresh process. */
	unsigned char *pdf = NULL;
	size_t len = 0;
	t0 = now_ms();
	if (appform_pdf(form, &pdf, &len) != 0) {
		fprintf(stderr, "pdf_bench: rendering failed\n");
		return 1;
	}
	double first_ms = now_ms() - t0;
	if (out != NULL) {
		FILE *f = fopen(out, "wb");
		if (f == NULL || fwrite(pdf, 1, len, f) != len || fclose(f) != 0) {
			perror(out);
			return 1;
		}
	}
	free(pdf);

	double *ms = calloc((size_t)n, sizeof(*ms));
	double *cpu = calloc((size_t)n, sizeof(*cpu));
	struct worker *w = calloc((size_t)threads, sizeof(*w));
	pthread_t *tid = calloc((size_t)threads, sizeof(*tid));
	if (ms == NULL || cpu == NULL || w == NULL || tid == NULL)
		return 1;
	int given = 0;
	for (int i = 0; i < threads; i++) {
		w[i].form = form;
		w[i].n = n / threads + (i < n % threads);
		w[i].ms = ms + given;
		w[i].cpu = cpu + given;
		given += w[i].n;
	}
	t0 = now_ms();
	for (int i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, work, &w[i]);
	int failures = 0;
	long voluntary = 0, involuntary = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		failures += w[i].failures;
		voluntary += w[i].voluntary;
		involuntary += w[i].involuntary;
	}
	double wall = now_ms() - t0;

	double median = median_of(ms, n);
	double cpu_median = median_of(cpu, n);
	double p95 = ms[(size_t)((n - 1) * 0.95)];
	printf("pdf_bench: %s form, %d forms, %d thread(s), %zu bytes per PDF\n",
	       form->personal ? "personal" : "unit", n, threads, w[0].bytes);
	printf("init_ms=%.1f first_form_ms=%.1f\n", init_ms, first_ms);
	printf("forms_per_s=%.1f median_ms=%.2f p95_ms=%.2f min_ms=%.2f max_ms=%.2f "
	       "cpu_median_ms=%.2f failures=%d\n",
	       n / (wall / 1e3), median, p95, ms[0], ms[n - 1], cpu_median, failures);
	printf("context_switches voluntary=%ld involuntary=%ld (in %d forms)\n", voluntary,
	       involuntary, n);
	free(ms);
	free(cpu);
	free(w);
	free(tid);
	return failures ? 1 : 0;
}
