#!/usr/bin/env python3
"""Input generators for tests/bench/run.sh (standard library only).

  gen.py manifest N PATH            CSV manifest: proj1, lv0..lv{N-1}, visibility 1, 0..60000 ms
  gen.py ledger N PATH              a ledger of N jobs that all succeeded, in the shapes and
                                    order batchcut writes (the run record, every job record,
                                    then per job dispatch / answer, answers trailing dispatches
                                    by 64 as with --concurrency 64), made against
                                    http://127.0.0.1:9
  gen.py uris N BASE PATH           one stop-and-cut URL per line (h2load -i)
  gen.py curlcfg N BASE PATH        a curl --config file: url + output=/dev/null per job
"""
import sys

PROJECT = "proj1"
BODY = ('{"dateTimeFrom":null,"dateTimeTo":null,"fromMilisecond":0,"toMilisecond":60000,'
        '"videoVisibilityOptionId":1}')


def write_chunks(path, n, line_of, chunk=20000):
    with open(path, "w", buffering=1 << 20) as f:
        for start in range(0, n, chunk):
            f.write("".join(line_of(i) for i in range(start, min(n, start + chunk))))


def manifest(n, path):
    with open(path, "w", buffering=1 << 20) as f:
        f.write("projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond\n")
        for start in range(0, n, 20000):
            f.write("".join(f"{PROJECT},lv{i},1,0,60000\n"
                            for i in range(start, min(n, start + 20000))))


def ledger(n, path, lag=64):
    ts = "2026-01-01T00:00:00.000Z"
    head = '{"type":"%s","ts":"' + ts + '","projectId":"' + PROJECT + '","liveVideoId":"lv%d"'

    def job(i):
        return (head % ("job", i)) + (',"videoVisibilityOptionId":1,"fromMilisecond":0,'
                                      '"toMilisecond":60000,"dateTimeFrom":null,'
                                      '"dateTimeTo":null,"label":""}\n')

    def dispatch(i):
        return (head % ("dispatch", i)) + ',"op":"cut","attempt":1}\n'

    def done(i):
        return ((head % ("answer", i)) +
                ',"op":"cut","attempt":1,"verdict":"success","videoPublicId":"v%013d",'
                '"httpStatus":200,"error":"","elapsedMs":2,"messages":[],"state":"succeeded"}\n' % i)

    with open(path, "w", buffering=1 << 20) as f:
        f.write('{"type":"run","ts":"' + ts + '","format":2,"baseUrl":"http://127.0.0.1:9",'
                '"authScheme":"bearer","caFile":null,"tool":"batchcut 0.2.0"}\n')
        for start in range(0, n, 20000):
            f.write("".join(job(i) for i in range(start, min(n, start + 20000))))
        parts = []
        for i in range(n + lag):
            if i < n:
                parts.append(dispatch(i))
            if i >= lag:
                parts.append(done(i - lag))
            if len(parts) >= 20000:
                f.write("".join(parts))
                parts.clear()
        f.write("".join(parts))


def uris(n, base, path):
    write_chunks(path, n, lambda i: f"{base}/api/v2/{PROJECT}/live-videos/lv{i}/stop-and-cut\n")


def curlcfg(n, base, path):
    write_chunks(path, n, lambda i: (f'url = "{base}/api/v2/{PROJECT}/live-videos/lv{i}/stop-and-cut"\n'
                                     'output = "/dev/null"\n'))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    what, n = argv[1], int(argv[2])
    if what == "manifest":
        manifest(n, argv[3])
    elif what == "ledger":
        ledger(n, argv[3])
    elif what == "uris":
        uris(n, argv[3], argv[4])
    elif what == "curlcfg":
        curlcfg(n, argv[3], argv[4])
    elif what == "body":
        sys.stdout.write(BODY)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
