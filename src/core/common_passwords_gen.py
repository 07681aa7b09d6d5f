#!/usr/bin/env python3
# Build step: turns data/common-passwords.txt into a C file holding the
# list lower-cased and sorted, so that password.c finds an entry by binary
# search and no program needs the text file at run time.
import sys

src, dst = sys.argv[1], sys.argv[2]
words = set()
with open(src, encoding='utf-8') as f:
    for line in f:
        w = line.strip()
        if w and not w.startswith('#'):
            words.add(w.lower())


def c_string(s):
    return '"' + ''.join(c if c.isalnum() or c in ' !#$%&()*+,-./:;<=>@[]^_`{|}~\'' else '\\%03o' % ord(c)
                         for c in s) + '"'


with open(dst, 'w', encoding='utf-8') as out:
    out.write('/* Generated from data/common-passwords.txt by common_passwords_gen.py. */\n')
    out.write('#include <stddef.h>\n\n')
    out.write('const char *const common_passwords[] = {\n')
    for w in sorted(words, key=lambda s: s.encode('utf-8')):
        out.write('\t%s,\n' % c_string(w))
    out.write('};\n')
    out.write('const size_t common_passwords_count = %d;\n' % len(words))
