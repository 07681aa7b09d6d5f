#!/usr/bin/env python3
# Build step: turns docs/openapi.yaml, the API's contract, into a C file holding
# it as compact JSON, so that espd serves /api/v1/openapi.json from its own
# bytes and the document cannot drift from the one in docs/.
import json
import sys

import yaml

src, dst = sys.argv[1], sys.argv[2]
with open(src, encoding='utf-8') as f:
    doc = yaml.safe_load(f)
if not isinstance(doc, dict) or not str(doc.get('openapi', '')).startswith('3.1'):
    sys.exit(f'{src}: not an OpenAPI 3.1 document')
text = json.dumps(doc, ensure_ascii=False, separators=(',', ':'), sort_keys=False).encode('utf-8')

with open(dst, 'w', encoding='ascii') as out:
    out.write('/* Generated from docs/openapi.yaml by src/httpd/openapi_gen.py: do not edit. */\n')
    out.write('#include <stddef.h>\n\n')
    out.write('const unsigned char openapi_json[] = {\n')
    for i in range(0, len(text), 16):
        out.write('\t' + ', '.join(str(b) for b in text[i:i + 16]) + ',\n')
    out.write('};\n')
    out.write(f'const size_t openapi_json_len = {len(text)};\n')
