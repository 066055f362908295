#!/usr/bin/env bash
# Cold start and per-invocation time of the Lambda function, under AWS's Runtime Interface Emulator
# (common.sh's rie_bin), with the dev stack's Elasticsearch (or ELASTICSEARCH_URL) and moto:
#
#   scripts/bench/run.sh lambda [ROUNDS]     (default 20)
#
# - cold start: COLD (default 5) fresh emulators, each invoked once with an SQS batch of one message
#   naming a file of 100 events: the emulator's "Init Duration" (process start to the runtime asking
#   for its first event), the first invocation's Duration, and the invoker's wall time for both;
# - warm: ROUNDS invocations of one function, each an SQS batch of 10 messages naming 10 new files of
#   100 events each (1,000 events indexed per invocation), then ROUNDS of a batch of one message;
# - the binary's and the zip's size, and the function process's peak resident memory (VmHWM).
# The binary is $LAMBDA_BIN, else scripts/build-lambda.sh's x86_64 bootstrap, else the release build.
set -euo pipefail
# shellcheck source=../common.sh source-path=SCRIPTDIR/..
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
cd "$REPO_ROOT"

ROUNDS="${1:-20}"
COLD="${COLD:-5}"
RIE="$(rie_bin)"
BIN="${LAMBDA_BIN:-}"
ZIP=""
if [[ -z $BIN && -x $REPO_ROOT/target/lambda/x86_64/bootstrap ]]; then
  BIN="$REPO_ROOT/target/lambda/x86_64/bootstrap"
  ZIP="$REPO_ROOT/target/lambda/x86_64/bootstrap.zip"
fi
[[ -n $BIN ]] || BIN="$(cloudtrail_es_bin)"
PY="$CACHE_DIR/venv/bin/python"   # dev-stack.sh's venv: moto, hence boto3
[[ -x $PY ]] || { echo "bench-lambda: no $PY; run scripts/dev/dev-stack.sh up moto first" >&2; exit 1; }

export RIE BIN ZIP ROUNDS COLD
export ES_URL="${ELASTICSEARCH_URL:-http://127.0.0.1:9200}" MOTO_URL="${CLOUDTRAIL_ES_TEST_MOTO:-http://127.0.0.1:5000}"
"$PY" - <<'EOF'
import gzip, json, os, socket, statistics, subprocess, tempfile, threading, time, urllib.request
import boto3

es, moto = os.environ["ES_URL"], os.environ["MOTO_URL"]
rounds, cold = int(os.environ["ROUNDS"]), int(os.environ["COLD"])
run = f"bench-lambda-{os.getpid()}"
s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket=run)
day = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/"

def new_file(tag):
    events = [{"eventVersion": "1.11", "eventID": f"{run}-{tag}-{i}", "eventTime": "2024-05-01T10:00:00Z",
               "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "us-east-1",
               "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15",
               "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bench", "accountId": "111122223333"},
               "requestParameters": {"bucketName": "b", "key": f"k/{i}"}, "recipientAccountId": "111122223333"}
              for i in range(100)]
    key = f"{day}111122223333_CloudTrail_us-east-1_20240501T1000Z_{tag}.json.gz"
    s3.put_object(Bucket=run, Key=key, Body=gzip.compress(json.dumps({"Records": events}).encode()))
    return json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "awsRegion": "us-east-1",
                                    "s3": {"bucket": {"name": run}, "object": {"key": key.replace("/", "%2F")}}}]})

def batch(tags):
    return {"Records": [{"messageId": t, "receiptHandle": t, "body": new_file(t), "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:q", "awsRegion": "us-east-1"} for t in tags]}

def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

class Function:
    def __init__(self):
        self.port, api = port(), port()
        self.dir = tempfile.TemporaryDirectory()
        env = dict(os.environ, AWS_ENDPOINT_URL=moto, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", ELASTICSEARCH_URL=es,
                   CLOUDTRAIL_ES_INDEX_PREFIX=run, CLOUDTRAIL_ES_DEAD_LETTER=f"s3://{run}/dl",
                   CLOUDTRAIL_ES_ALLOW_BUCKET=run, AWS_LAMBDA_FUNCTION_TIMEOUT="120", TMPDIR=self.dir.name)
        self.proc = subprocess.Popen([os.environ["RIE"], "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
                                      "--runtime-api-address", f"127.0.0.1:{api}", os.environ["BIN"], "lambda"],
                                     env=env, cwd=self.dir.name, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        threading.Thread(target=lambda: [self.lines.append(l) for l in self.proc.stdout], daemon=True).start()
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close(); break
            except OSError:
                time.sleep(0.01)

    def invoke(self, event):
        seen = len([l for l in self.lines if l.startswith("REPORT")])
        url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations"
        started = time.monotonic()
        with urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(event).encode()), timeout=300) as r:
            answer = json.loads(r.read() or b"null")
        wall = (time.monotonic() - started) * 1000
        assert answer == {"batchItemFailures": []}, answer
        while len(reports := [l for l in self.lines if l.startswith("REPORT")]) <= seen:
            time.sleep(0.005)
        fields = dict(f.split(": ", 1) for f in reports[-1].strip().split("\t")[1:] if ": " in f)
        ms = lambda k: float(fields[k].split()[0]) if k in fields else None
        return wall, ms("Init Duration"), ms("Duration")

    def peak_kib(self):
        kids = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        for pid in kids:
            try:
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith("VmHWM"):
                        return int(line.split()[1])
            except OSError:
                pass
        return None

    def stop(self):
        self.proc.kill(); self.proc.wait()

def med(xs):
    return f"{statistics.median(xs):.0f} ms (min {min(xs):.0f}, max {max(xs):.0f})"

n = 0
colds = []
for i in range(cold):
    f = Function()
    colds.append(f.invoke(batch([f"cold{i}"])))
    f.stop()
print(f"cold start, {cold} fresh functions, 1 message x 100 events:")
print(f"  init (emulator's Init Duration): {med([c[1] for c in colds])}")
print(f"  first invocation (Duration, incl. cluster setup): {med([c[2] for c in colds])}")
print(f"  invoker's wall time, start to answer: {med([c[0] for c in colds])}")

f = Function()
f.invoke(batch(["warmup"]))
tens = [f.invoke(batch([f"w{r}-{m}" for m in range(10)])) for r in range(rounds)]
ones = [f.invoke(batch([f"o{r}"])) for r in range(rounds)]
peak = f.peak_kib()
f.stop()
print(f"warm, {rounds} invocations each:")
print(f"  10 messages x 100 events (1,000 events): Duration {med([t[2] for t in tens])}; wall {med([t[0] for t in tens])}")
print(f"  1 message x 100 events: Duration {med([t[2] for t in ones])}; wall {med([t[0] for t in ones])}")
if peak:
    print(f"  function process peak resident memory: {peak / 1024:.1f} MiB")
binary = os.environ["BIN"]
print(f"binary {binary}: {os.path.getsize(binary) / 1e6:.1f} MB", end="")
if os.environ.get("ZIP"):
    print(f"; bootstrap.zip {os.path.getsize(os.environ['ZIP']) / 1e6:.1f} MB")
else:
    print()
# Refreshed first: the last invocations' documents may not be searchable yet.
urllib.request.urlopen(urllib.request.Request(f"{es}/{run}-*/_refresh", method="POST"))
count = json.load(urllib.request.urlopen(urllib.request.Request(f"{es}/{run}-*/_count")))["count"]
expected = (cold + 1 + 10 * rounds + rounds) * 100
print(f"indexed {count} of {expected} events")
for path in [f"{run}-*", f"_index_template/{run}"] + [f"_component_template/{run}@{p}" for p in ["settings", "mappings", "ecs", "lifecycle"]]:
    try:
        urllib.request.urlopen(urllib.request.Request(f"{es}/{path}", method="DELETE"))
    except OSError:
        pass
EOF
