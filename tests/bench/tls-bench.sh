#!/usr/bin/env bash
# TLS/ACME benchmark (not a test). Needs: pebble, pebble-challtestsrv, nginx, wrk, openssl, taskset, curl.
#
#   tests/bench/tls-bench.sh            # from the repository root
#
# Measures, against a local Pebble:
#   1. time from process start to the first certificate being served (RUNS runs);
#   2. TLS 1.3 full handshakes per second on one core (wrk with "Connection: close": every
#      request is a new TCP connection and a full handshake; wrk does not resume sessions);
#   3. keep-alive requests per second on "/" on one core;
# for the service and for Debian's nginx serving a certificate of the same profile (P-256 leaf
# from the same Pebble, same chain, same name, TLS 1.3 only), with the same wrk settings.
# Server pinned to CPU 0, wrk to CPU 1. Prints a summary table at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
DOMAIN=auth.example.com
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

for tool in pebble pebble-challtestsrv nginx wrk openssl taskset curl; do
  command -v "$tool" >/dev/null || { echo "SKIPPED: $tool is not installed"; exit 0; }
done

D=$(mktemp -d /tmp/tls-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ACME=$(free_port); MGMT=$(free_port); HTTP=$(free_port); DNS=$(free_port); DNSM=$(free_port)
SVC=$(free_port); NGX=$(free_port)

echo "== building (release)"
(cd "$ROOT" && cargo build --release --bin paypal-auth-vm --example acme_cert_to_files >/dev/null 2>&1)
# Copy at once: the target directory may be shared with other builds.
cp "$CARGO_TARGET_DIR/release/paypal-auth-vm" "$D/svc"
cp "$CARGO_TARGET_DIR/release/examples/acme_cert_to_files" "$D/certgen"

echo "== pebble on :$ACME (http-01 to :$HTTP)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=pebble listener test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout "$D/ca.key" -out "$D/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" -keyout "$D/key.pem" -out "$D/cert.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > "$D/ext.cnf"
openssl x509 -req -in "$D/cert.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial -days 30 -extfile "$D/ext.cnf" -out "$D/cert.pem" 2>/dev/null
cat > "$D/pebble.json" <<JSON
{"pebble":{"listenAddress":"127.0.0.1:$ACME","managementListenAddress":"127.0.0.1:$MGMT","certificate":"$D/cert.pem","privateKey":"$D/key.pem","httpPort":$HTTP,"tlsPort":$(free_port),"ocspResponderURL":"","externalAccountBindingRequired":false,"certificateValidityPeriod":86400}}
JSON
pebble-challtestsrv -management 127.0.0.1:$DNSM -dns01 127.0.0.1:$DNS -http01 "" -https01 "" -tlsalpn01 "" -defaultIPv6 "" -defaultIPv4 127.0.0.1 >"$D/cts.log" 2>&1 &
PIDS+=($!)
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$D/pebble.json" -dnsserver 127.0.0.1:$DNS >"$D/pebble.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf --cacert "$D/ca.pem" "https://127.0.0.1:$ACME/dir" >/dev/null && break; sleep 0.1; done
curl -sk "https://127.0.0.1:$MGMT/roots/0" > "$D/root.pem"

# exec: in a background subshell, $! is then the service itself (killed by PID).
svc_env() {
  exec env -i PATH="$PATH" PAYPAL_CLIENT_ID=bench PAYPAL_SECRET=bench PAYPAL_ENVIRONMENT=sandbox DOMAIN=$DOMAIN \
    HTTP_ADDR=127.0.0.1:$HTTP HTTPS_ADDR=127.0.0.1:$SVC PUBLIC_URL=https://$DOMAIN:$SVC TLS_SOURCE=acme \
    ACME_DIRECTORY_URL=https://127.0.0.1:$ACME/dir OUTBOUND_CA_FILE="$D/ca.pem" ACME_RETRY_BASE_MS=100 "$@"
}

# Waits until log $1 says the service serves; fails if process $2 died or 60 s passed.
wait_serving() {
  for _ in $(seq 12000); do
    grep -q "boot: serving" "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "service exited:"; tail -3 "$1"; return 1; }
    sleep 0.005
  done
  echo "service did not serve within 60 s"; return 1
}

echo "== 1. start → first certificate ($RUNS runs)"
TIMES=()
for i in $(seq "$RUNS"); do
  start=$(date +%s%N)
  svc_env "$D/svc" 2>"$D/svc-$i.log" &
  pid=$!
  wait_serving "$D/svc-$i.log" $pid
  end=$(date +%s%N)
  kill $pid; wait $pid 2>/dev/null || true
  TIMES+=($(( (end - start) / 1000000 )))
done
echo "   ms: ${TIMES[*]}"
FIRST_CERT_MEDIAN=$(printf '%s\n' "${TIMES[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

echo "== certificate for nginx (same Pebble, P-256, same name)"
mkdir -p "$D/nginx/html" "$D/nginx/tmp"
"$D/certgen" "https://127.0.0.1:$ACME/dir" "$D/ca.pem" $HTTP $DOMAIN "$D/nginx" 2>/dev/null

echo "== service on CPU 0 (:$SVC)"
svc_env taskset -c 0 "$D/svc" 2>"$D/svc-load.log" &
PIDS+=($!)
wait_serving "$D/svc-load.log" $!
curl -s --cacert "$D/root.pem" --resolve $DOMAIN:$SVC:127.0.0.1 "https://$DOMAIN:$SVC/" > "$D/nginx/html/index.html"
echo "   / is $(wc -c < "$D/nginx/html/index.html") bytes"

cat > "$D/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $D/nginx/nginx.pid;
error_log $D/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $D/nginx/tmp; proxy_temp_path $D/nginx/tmp; fastcgi_temp_path $D/nginx/tmp;
  uwsgi_temp_path $D/nginx/tmp; scgi_temp_path $D/nginx/tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGX ssl;
    http2 on;
    server_name $DOMAIN;
    ssl_certificate $D/nginx/chain.pem;
    ssl_certificate_key $D/nginx/key.pem;
    ssl_protocols TLSv1.3;
    ssl_session_tickets off;
    ssl_session_cache off;
    root $D/nginx/html;
    location = / { default_type "text/html; charset=utf-8"; try_files /index.html =404; }
    location = /healthz { default_type text/plain; return 200 "ok\n"; }
  }
}
NGINX
# nginx 1.22 has no "http2 on;" directive: use the listen flag instead.
if ! nginx -t -c "$D/nginx/nginx.conf" -p "$D/nginx" >/dev/null 2>&1; then
  sed -i -e 's/listen 127.0.0.1:\([0-9]*\) ssl;/listen 127.0.0.1:\1 ssl http2;/' -e '/http2 on;/d' "$D/nginx/nginx.conf"
fi
taskset -c 0 nginx -c "$D/nginx/nginx.conf" -p "$D/nginx" 2>"$D/nginx/stderr.log" &
PIDS+=($!)
for _ in $(seq 100); do curl -sk "https://127.0.0.1:$NGX/healthz" >/dev/null && break; sleep 0.1; done

for port in $SVC $NGX; do
  proto=$(openssl s_client -connect 127.0.0.1:$port -servername $DOMAIN -CAfile "$D/root.pem" </dev/null 2>/dev/null | grep -E "^(New|    Protocol|Verify return code)" | tr '\n' ' ')
  echo "   :$port $proto"
done

rate() { awk '/Requests\/sec/ {print $2}'; }
run_wrk() { taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "$@" 2>&1; }

# Alternating order (service, nginx, nginx, service, …) so drifting background load hits both
# alike; the figure is the mean of REPEAT runs each.
REPEAT=${REPEAT:-2}
measure() { # $1 = label, rest = wrk arguments without the URL; uses $SVC_URL / $NGX_URL
  local label=$1; shift
  local s=() n=()
  for r in $(seq "$REPEAT"); do
    if [ $((r % 2)) -eq 1 ]; then
      s+=($(run_wrk "$@" "$SVC_URL" | tee "$D/wrk-svc-$label-$r.txt" | rate))
      n+=($(run_wrk "$@" "$NGX_URL" | tee "$D/wrk-ngx-$label-$r.txt" | rate))
    else
      n+=($(run_wrk "$@" "$NGX_URL" | tee "$D/wrk-ngx-$label-$r.txt" | rate))
      s+=($(run_wrk "$@" "$SVC_URL" | tee "$D/wrk-svc-$label-$r.txt" | rate))
    fi
  done
  echo "   service ${s[*]} /s   nginx ${n[*]} /s" >&2
  printf '%s\n' "${s[@]}" | awk '{t+=$1} END {printf "%.1f ", t/NR}'
  printf '%s\n' "${n[@]}" | awk '{t+=$1} END {printf "%.1f\n", t/NR}'
}

echo "== 2. full TLS 1.3 handshakes/s (Connection: close, /healthz, $CONNS connections, ${DURATION}s × $REPEAT)"
SVC_URL="https://127.0.0.1:$SVC/healthz"; NGX_URL="https://127.0.0.1:$NGX/healthz"
read -r SVC_HS NGX_HS < <(measure hs -H "Connection: close")

echo "== 3. keep-alive requests/s on / ($CONNS connections, ${DURATION}s × $REPEAT)"
SVC_URL="https://127.0.0.1:$SVC/"; NGX_URL="https://127.0.0.1:$NGX/"
read -r SVC_KA NGX_KA < <(measure ka)

echo
echo "| measure | service | nginx 1.22 | service / nginx |"
echo "|---|---|---|---|"
echo "| start → first certificate served (median of $RUNS, ms) | $FIRST_CERT_MEDIAN | – | – |"
awk -v s="$SVC_HS" -v n="$NGX_HS" 'BEGIN { printf "| TLS 1.3 full handshakes/s, 1 core | %.0f | %.0f | %.2f |\n", s, n, s/n }'
awk -v s="$SVC_KA" -v n="$NGX_KA" 'BEGIN { printf "| keep-alive requests/s on /, 1 core | %.0f | %.0f | %.2f |\n", s, n, s/n }'
echo
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) (on $(nproc) CPUs; other work on the machine skews both sides)"
echo "raw wrk output and logs: $D"
