#!/usr/bin/python3
"""A real SMTP server for the mail tests (aiosmtpd): every message it accepts
is written to <dir>/<n>.json (envelope, whether STARTTLS was used, and the raw
message) *before* the 250 reply, as a mail server commits a message before
acknowledging it.

  smtp_recorder.py --port P --dir D [--hold-ms N] [--reject SUBSTR]
                   [--tls-cert C --tls-key K] [--ready FILE]

--hold-ms   wait that long after recording a message before answering 250
            (the window in which a sender killed does not know the outcome)
--reject    answer 550 to RCPT TO addresses containing SUBSTR
--tls-*     offer STARTTLS with this certificate
--auth U:P  require AUTH (after STARTTLS) with this login; the file records it
--ready     create FILE once listening
"""
import argparse
import asyncio
import json
import os
import ssl
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, args):
        self.args = args
        self.seq = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.args.reject and self.args.reject in address:
            return '550 5.1.1 mailbox unavailable'
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        self.seq += 1
        name = os.path.join(self.args.dir, f'{time.time_ns()}-{os.getpid()}-{self.seq}.json')
        record = {
            'mail_from': envelope.mail_from,
            'rcpt_tos': envelope.rcpt_tos,
            'tls': session.ssl is not None,
            'login': session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            'data': envelope.original_content.decode('utf-8', 'replace'),
        }
        with open(name + '.tmp', 'w') as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(name + '.tmp', name)
        if self.args.hold_ms:
            await asyncio.sleep(self.args.hold_ms / 1000)
        return '250 OK queued'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--dir', required=True)
    ap.add_argument('--hold-ms', type=int, default=0)
    ap.add_argument('--reject', default='')
    ap.add_argument('--tls-cert')
    ap.add_argument('--tls-key')
    ap.add_argument('--auth')
    ap.add_argument('--ready')
    args = ap.parse_args()
    kw = {}
    if args.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        kw = {'tls_context': ctx}
    if args.auth:
        user, password = args.auth.split(':', 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = (isinstance(data, LoginPassword) and data.login.decode() == user
                  and data.password.decode() == password)
            # handled=False: aiosmtpd answers 535 itself (True would mean we did)
            return AuthResult(success=ok, handled=ok, auth_data=data if ok else None)
        kw.update(auth_required=True, authenticator=authenticator)
    ctl = Controller(Recorder(args), hostname='127.0.0.1', port=args.port,
                     server_hostname='recorder.test', **kw)
    ctl.start()
    if args.ready:
        open(args.ready, 'w').close()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        ctl.stop()


if __name__ == '__main__':
    main()
