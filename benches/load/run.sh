#!/usr/bin/env bash
# Load benchmark: zt ingress against nginx and Apache + mod_auth_openidc, with wrk on
# loopback. See benches/load/README.md. Run from anywhere: bash benches/load/run.sh --help
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash benches/load/run.sh [OPTIONS]

Measures, with wrk on loopback (keep-alive), GET / with a bearer JWT against the same
small upstream (nginx `return 200 "ok\n"`, 1 worker) in four configurations:
  a  the upstream direct
  b  nginx as a plain reverse proxy (no auth), 2 workers, upstream keep-alive
  c  Apache httpd (mpm_event, 2 x 64 threads) + mod_auth_openidc validating the JWT
     (OAuth 2.0 resource server; JWKS over https from a local "IdP"; iss and aud required)
  d  zt ingress validating the JWT, a 1,000-rule policy, audit on (to a file)
Configurations alternate inside each round (a b c d, a b c d, ...); before each run the
script pauses and waits for an idle CPU. It prints the median req/s, p50 and p99 latency
and the peak RSS of the proxy process(es) per configuration, and the ratios (d)/(b) and
(d)/(c); the table is also written to OUT/results.md.

Options:
  -d, --duration SECONDS   length of each wrk run (default 15)
  -r, --rounds N           rounds; each runs every selected configuration once (default 3)
  -c, --connections N      wrk connections (default 64)
  -t, --threads N          wrk threads (default 2)
  -o, --only LIST          configurations to run, comma-separated from a,b,c,d
                           (default a,b,c,d)
      --rules N            rules in the generated zt policy (default 1000)
      --warmup SECONDS     one warm-up run per configuration before round 1 (default 2; 0: none)
      --pause SECONDS      fixed pause before each run (default 3)
      --idle-cpu PERCENT   then wait until CPU use over 1 s is below this (default 15)
      --idle-timeout SECS  ... but at most this long, then run anyway and say so (default 60)
      --out DIR            results directory (default target/load); a scratch directory
                           OUT/run-<timestamp> holds configs, logs, pid files, raw wrk output
      --no-build           do not run `cargo build --release --example ingress` for (d)
      --keep-audit         keep the zt audit files (deleted at the end by default: they grow
                           by hundreds of MB per run)
  -h, --help               this text

Environment:
  ZT_INGRESS               the ingress binary (default target/release/examples/ingress;
                           setting it skips the build)
  ZT_LOAD_UPSTREAM_PORT    upstream nginx (default 18080)
  ZT_LOAD_NGINX_PORT       (b) nginx proxy (default 18081)
  ZT_LOAD_APACHE_PORT      (c) Apache (default 18082)
  ZT_LOAD_INGRESS_PORT     (d) zt ingress (default 18083)
  ZT_LOAD_METRICS_PORT     (d) zt ingress metrics and /readyz (default 18093)
  ZT_LOAD_IDP_PORT         https JWKS server for (c) (default 18443)

Prerequisites (Debian/Ubuntu): apt-get install wrk nginx apache2 libapache2-mod-auth-openidc
openssl python3 curl. The script installs nothing and never touches the system services.
EOF
}

# ---------------------------------------------------------------- options
DURATION=15 ROUNDS=3 CONNECTIONS=64 THREADS=2 ONLY=a,b,c,d RULES=1000
WARMUP=2 PAUSE=3 IDLE_CPU=15 IDLE_TIMEOUT=60 OUT=target/load BUILD=1 KEEP_AUDIT=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -d|--duration) DURATION=$2; shift 2 ;;
    -r|--rounds) ROUNDS=$2; shift 2 ;;
    -c|--connections) CONNECTIONS=$2; shift 2 ;;
    -t|--threads) THREADS=$2; shift 2 ;;
    -o|--only) ONLY=$2; shift 2 ;;
    --rules) RULES=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --pause) PAUSE=$2; shift 2 ;;
    --idle-cpu) IDLE_CPU=$2; shift 2 ;;
    --idle-timeout) IDLE_TIMEOUT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep-audit) KEEP_AUDIT=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in DURATION ROUNDS CONNECTIONS THREADS RULES WARMUP PAUSE IDLE_CPU IDLE_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "run.sh: $v must be a whole number, got '${!v}'" >&2; exit 2; }
done
(( DURATION > 0 && ROUNDS > 0 && CONNECTIONS > 0 && THREADS > 0 && RULES > 0 )) ||
  { echo "run.sh: duration, rounds, connections, threads and rules must be > 0" >&2; exit 2; }
(( CONNECTIONS >= THREADS )) || { echo "run.sh: connections must be >= threads" >&2; exit 2; }

CONFIGS=()
for c in a b c d; do
  [[ ",$ONLY," == *",$c,"* ]] && CONFIGS+=("$c")
done
for c in ${ONLY//,/ }; do
  [[ $c =~ ^[abcd]$ ]] || { echo "run.sh: --only takes a,b,c,d; got '$c'" >&2; exit 2; }
done
(( ${#CONFIGS[@]} > 0 )) || { echo "run.sh: --only selects nothing" >&2; exit 2; }
want() { [[ " ${CONFIGS[*]} " == *" $1 "* ]]; }

UP_PORT=${ZT_LOAD_UPSTREAM_PORT:-18080}
NGINX_PORT=${ZT_LOAD_NGINX_PORT:-18081}
APACHE_PORT=${ZT_LOAD_APACHE_PORT:-18082}
ZT_PORT=${ZT_LOAD_INGRESS_PORT:-18083}
METRICS_PORT=${ZT_LOAD_METRICS_PORT:-18093}
IDP_PORT=${ZT_LOAD_IDP_PORT:-18443}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

declare -A NAME=(
  [a]="(a) upstream direct"
  [b]="(b) nginx reverse proxy, no auth"
  [c]="(c) Apache mpm_event + mod_auth_openidc (JWT)"
  [d]="(d) zt ingress (JWT + ${RULES}-rule policy + audit)"
)
declare -A PORT=([a]=$UP_PORT [b]=$NGINX_PORT [c]=$APACHE_PORT [d]=$ZT_PORT)

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
missing_pkgs=()
need() { command -v "$1" >/dev/null 2>&1 || missing_pkgs+=("$2"); }
need wrk wrk
need nginx nginx
need openssl openssl
need python3 python3
need curl curl
need ps procps
APACHE_BIN=${APACHE_BIN:-$(command -v apache2 || echo /usr/sbin/apache2)}
APACHE_MODULES=${APACHE_MODULES:-/usr/lib/apache2/modules}
if want c; then
  [[ -x $APACHE_BIN ]] || missing_pkgs+=(apache2)
  [[ -f $APACHE_MODULES/mod_auth_openidc.so ]] || missing_pkgs+=(libapache2-mod-auth-openidc)
fi
if (( ${#missing_pkgs[@]} )); then
  die "missing prerequisites; install them with:
  apt-get install ${missing_pkgs[*]}"
fi

ZT_BIN=${ZT_INGRESS:-target/release/examples/ingress}
if want d; then
  if [[ -z ${ZT_INGRESS:-} && $BUILD == 1 ]]; then
    log "building the ingress: cargo build --release --example ingress"
    cargo build --release --example ingress
  fi
  [[ -x $ZT_BIN ]] || die "zt ingress binary '$ZT_BIN' not found or not executable
  (build it with 'cargo build --release --example ingress', or set ZT_INGRESS)"
fi

# ---------------------------------------------------------------- ports
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports=("upstream:$UP_PORT")
want b && ports+=("nginx:$NGINX_PORT")
want c && ports+=("apache:$APACHE_PORT" "idp:$IDP_PORT")
want d && ports+=("ingress:$ZT_PORT" "metrics:$METRICS_PORT")
seen=" "
for p in "${ports[@]}"; do
  n=${p#*:}
  [[ $seen == *" $n "* ]] && die "port $n is configured twice (${ports[*]})"
  seen+="$n "
  port_busy "$n" && die "port $n (${p%%:*}) is already in use on 127.0.0.1; stop what listens there
  or choose another port with ZT_LOAD_*_PORT (see --help)"
done

# ---------------------------------------------------------------- scratch dir, cleanup
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
S="$OUT/run-$STAMP"
mkdir -p "$S"/{wrk,upstream,idp,nginx,apache,zt}
log "scratch directory: $S"

STARTED=()   # pids of the processes this script started (masters; children found via /proc)
descendants() {  # PID and all its descendants
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      keep[root] = 1; changed = 1
      while (changed) { changed = 0
        for (i in pids) { p = pids[i]
          if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } } }
      for (p in keep) print p
    }'
}
cleanup() {
  local rc=$? pid tree=() t
  trap - EXIT INT TERM
  [[ -n ${WRK_PID:-} ]] && kill -TERM "$WRK_PID" 2>/dev/null
  for (( i=${#STARTED[@]}-1; i>=0; i-- )); do
    pid=${STARTED[i]}
    kill -0 "$pid" 2>/dev/null || continue
    mapfile -t tree < <(descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for (( t=0; t<50; t++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    for p in "${tree[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
    wait "$pid" 2>/dev/null || true
  done
  if (( KEEP_AUDIT == 0 )) && compgen -G "$S/zt/zt-audit.jsonl*" >/dev/null; then
    rm -f "$S"/zt/zt-audit.jsonl*
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() {  # URL PID WHAT [curl options...]: poll until the URL answers 200
  local url=$1 pid=$2 what=$3; shift 3
  for (( t=0; t<300; t++ )); do
    kill -0 "$pid" 2>/dev/null || die "$what exited during start-up; see its log in $S"
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null) == 200 ]] && return 0
    sleep 0.1
  done
  die "$what did not answer 200 at $url within 30 s; see its log in $S"
}
wait_listen() {  # PORT PID WHAT
  for (( t=0; t<300; t++ )); do
    kill -0 "$2" 2>/dev/null || die "$3 exited during start-up; see its log in $S"
    port_busy "$1" && return 0
    sleep 0.1
  done
  die "$3 did not listen on port $1 within 30 s; see its log in $S"
}

# ---------------------------------------------------------------- key, JWKS, tokens, policy
ISS="https://127.0.0.1:$IDP_PORT"
AUD=zt-load
KID=zt-load-1
openssl ecparam -name prime256v1 -genkey -noout -out "$S/idp/signing-key.pem" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$S/idp/other-key.pem" 2>/dev/null
python3 "$HERE/jwt.py" jwks "$S/idp/signing-key.pem" "$KID" > "$S/jwks.json"
TOKEN=$(python3 "$HERE/jwt.py" token "$S/idp/signing-key.pem" "$KID" --iss "$ISS" --aud "$AUD")
BAD_AUD=$(python3 "$HERE/jwt.py" token "$S/idp/signing-key.pem" "$KID" --iss "$ISS" --aud other-api)
BAD_SIG=$(python3 "$HERE/jwt.py" token "$S/idp/other-key.pem" "$KID" --iss "$ISS" --aud "$AUD")
printf '%s\n' "$TOKEN" > "$S/token.jwt"
if want d; then
  python3 "$HERE/gen_policy.py" "$RULES" "$S/zt/policy-$RULES.zt"
  POLICY_TOOL=${ZT_POLICY_TOOL:-target/debug/examples/policy}
  if [[ -x $POLICY_TOOL ]]; then
    "$POLICY_TOOL" check "$S/zt/policy-$RULES.zt" >&2 || die "generated policy does not check"
  fi
fi

# ---------------------------------------------------------------- upstream (nginx, 1 worker)
nginx_common() {  # DIR: lines every nginx instance here shares
  cat <<EOF
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 4096; }
EOF
}
nginx_temp() {  # DIR
  cat <<EOF
  access_log off;
  client_body_temp_path $1/tmp-body;
  proxy_temp_path $1/tmp-proxy;
  fastcgi_temp_path $1/tmp-fastcgi;
  uwsgi_temp_path $1/tmp-uwsgi;
  scgi_temp_path $1/tmp-scgi;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
EOF
}
start_nginx() {  # DIR WHAT: start nginx with DIR/nginx.conf in the foreground
  nginx -t -q -e "$1/error.log" -p "$1/" -c "$1/nginx.conf" ||
    die "$2: nginx config test failed ($1/nginx.conf)"
  nginx -e "$1/error.log" -p "$1/" -c "$1/nginx.conf" >"$1/stdout.log" 2>&1 &
  STARTED+=($!)
  LAST_PID=$!
}

{
  echo "worker_processes 1;"
  nginx_common "$S/upstream"
  echo "http {"
  nginx_temp "$S/upstream"
  cat <<EOF
  server {
    listen 127.0.0.1:$UP_PORT;
    location / { default_type text/plain; return 200 "ok\n"; }
  }
}
EOF
} > "$S/upstream/nginx.conf"
start_nginx "$S/upstream" upstream
UP_PID=$LAST_PID
wait_http "http://127.0.0.1:$UP_PORT/" "$UP_PID" "upstream nginx"

declare -A PROXY_PID=()

# ---------------------------------------------------------------- (b) nginx reverse proxy
if want b; then
  {
    echo "worker_processes 2;"
    nginx_common "$S/nginx"
    echo "http {"
    nginx_temp "$S/nginx"
    cat <<EOF
  upstream zt_load_upstream {
    server 127.0.0.1:$UP_PORT;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://zt_load_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  } > "$S/nginx/nginx.conf"
  start_nginx "$S/nginx" "nginx proxy"
  PROXY_PID[b]=$LAST_PID
  wait_http "http://127.0.0.1:$NGINX_PORT/" "${PROXY_PID[b]}" "nginx proxy"
fi

# ---------------------------------------------------------------- (c) IdP (https JWKS) + Apache
if want c; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=127.0.0.1" -keyout "$S/idp/tls-key.pem" -out "$S/idp/tls-cert.pem" 2>/dev/null
  JWKS_INLINE=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])),separators=(",",":")))' "$S/jwks.json")
  {
    echo "worker_processes 1;"
    nginx_common "$S/idp"
    echo "http {"
    nginx_temp "$S/idp"
    cat <<EOF
  server {
    listen 127.0.0.1:$IDP_PORT ssl;
    ssl_certificate $S/idp/tls-cert.pem;
    ssl_certificate_key $S/idp/tls-key.pem;
    location = /jwks.json { default_type application/json; return 200 '$JWKS_INLINE'; }
  }
}
EOF
  } > "$S/idp/nginx.conf"
  start_nginx "$S/idp" "JWKS server"
  IDP_PID=$LAST_PID
  wait_http "$ISS/jwks.json" "$IDP_PID" "JWKS server (nginx, https)" -k

  RUN_AS=""
  if (( EUID == 0 )); then
    RUN_AS="User www-data
Group www-data"
  fi
  cat > "$S/apache/httpd.conf" <<EOF
ServerRoot "$S/apache"
ServerName 127.0.0.1
Listen 127.0.0.1:$APACHE_PORT
PidFile "$S/apache/httpd.pid"
DefaultRuntimeDir "$S/apache"
Mutex file:$S/apache default
ErrorLog "$S/apache/error.log"
LogLevel warn
$RUN_AS

LoadModule mpm_event_module $APACHE_MODULES/mod_mpm_event.so
LoadModule authn_core_module $APACHE_MODULES/mod_authn_core.so
LoadModule authz_core_module $APACHE_MODULES/mod_authz_core.so
LoadModule authz_user_module $APACHE_MODULES/mod_authz_user.so
LoadModule proxy_module $APACHE_MODULES/mod_proxy.so
LoadModule proxy_http_module $APACHE_MODULES/mod_proxy_http.so
LoadModule auth_openidc_module $APACHE_MODULES/mod_auth_openidc.so

# mpm_event: a fixed 2 processes x 64 threads; no access log (nginx has none either).
StartServers 2
ServerLimit 2
ThreadsPerChild 64
ThreadLimit 64
MaxRequestWorkers 128
MinSpareThreads 1
MaxSpareThreads 128
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 120

# OAuth 2.0 resource server: the bearer JWT is verified against the JWKS on every request.
OIDCCryptoPassphrase $(openssl rand -hex 16)
OIDCOAuthVerifyJwksUri $ISS/jwks.json
OIDCOAuthSSLValidateServer Off
OIDCOAuthRemoteUserClaim sub
OIDCPassClaimsAs none

<Location />
  AuthType oauth20
  <RequireAll>
    Require valid-user
    Require claim iss:$ISS
    Require claim aud:$AUD
  </RequireAll>
</Location>

ProxyPass / http://127.0.0.1:$UP_PORT/ enablereuse=on
ProxyPassReverse / http://127.0.0.1:$UP_PORT/
EOF
  "$APACHE_BIN" -t -f "$S/apache/httpd.conf" -d "$S/apache" >"$S/apache/configtest.log" 2>&1 ||
    die "Apache config test failed: $(cat "$S/apache/configtest.log")"
  "$APACHE_BIN" -f "$S/apache/httpd.conf" -d "$S/apache" -DFOREGROUND \
    >"$S/apache/stdout.log" 2>&1 &
  STARTED+=($!)
  PROXY_PID[c]=$!
  wait_listen "$APACHE_PORT" "${PROXY_PID[c]}" "Apache"
fi

# ---------------------------------------------------------------- (d) zt ingress
if want d; then
  cat > "$S/zt/ingress.toml" <<EOF
[listen]
http = "127.0.0.1:$ZT_PORT"
metrics = "127.0.0.1:$METRICS_PORT"

[[providers]]
issuer = "$ISS"
audiences = ["$AUD"]
jwks_file = "$S/jwks.json"

[audit]
file = "$S/zt/zt-audit.jsonl"

[[routes]]
name = "load"
from = "*"
to = ["http://127.0.0.1:$UP_PORT"]
policy = "$S/zt/policy-$RULES.zt"
EOF
  "$ZT_BIN" --config "$S/zt/ingress.toml" >"$S/zt/ingress.log" 2>&1 &
  STARTED+=($!)
  PROXY_PID[d]=$!
  wait_http "http://127.0.0.1:$METRICS_PORT/readyz" "${PROXY_PID[d]}" "zt ingress"
fi

# ---------------------------------------------------------------- functional checks
expect() {  # WHAT URL WANT_CODES WANT_BODY TOKEN
  local what=$1 url=$2 codes=$3 body=$4 tok=$5 code got
  local args=(-s -o "$S/check-body" -w '%{http_code}' --max-time 10)
  [[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
  code=$(curl "${args[@]}" "$url" || true)
  got=$(cat "$S/check-body" 2>/dev/null || true)
  if [[ " $codes " != *" $code "* ]]; then
    die "check failed: $what: got HTTP $code (want $codes); body: ${got:0:200}"
  fi
  if [[ -n $body && $got != "$body" ]]; then
    die "check failed: $what: HTTP $code but body '${got:0:200}' (want '$body')"
  fi
  log "ok: $what -> $code"
}
for c in "${CONFIGS[@]}"; do
  url="http://127.0.0.1:${PORT[$c]}/"
  expect "$c with token" "$url" "200" "ok" "$TOKEN"
  if [[ $c == c || $c == d ]]; then
    expect "$c without token" "$url" "401" "" ""
    expect "$c token with wrong aud" "$url" "401 403" "" "$BAD_AUD"
    expect "$c token signed by another key" "$url" "401 403" "" "$BAD_SIG"
  fi
done

# ---------------------------------------------------------------- measuring
cpu_busy() {  # percent of all CPUs busy over 1 s
  local a b
  read -r _ a < /proc/stat; sleep 1; read -r _ b < /proc/stat
  awk -v a="$a" -v b="$b" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); tot = 0
    for (i = 1; i <= n; i++) tot += y[i] - x[i]
    idle = (y[4] - x[4]) + (y[5] - x[5])
    printf "%d", (tot > 0 ? 100 * (tot - idle) / tot : 0) }'
}
wait_idle() {  # prints the CPU use seen last
  local start busy
  sleep "$PAUSE"
  start=$SECONDS
  while :; do
    busy=$(cpu_busy)
    (( busy < IDLE_CPU )) && break
    if (( SECONDS - start >= IDLE_TIMEOUT )); then
      log "warning: CPU still ${busy}% busy after ${IDLE_TIMEOUT}s; running anyway"
      break
    fi
  done
  echo "$busy"
}
rss_kb() {  # PID FIELD: sum of FIELD (VmHWM, VmRSS) over PID and its descendants, kB
  local p sum=0 v
  for p in $(descendants "$1"); do
    v=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || true)
    sum=$(( sum + ${v:-0} ))
  done
  echo "$sum"
}
pss_kb() {
  local p sum=0 v
  for p in $(descendants "$1"); do
    v=$(awk '$1 == "Pss:" { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true)
    sum=$(( sum + ${v:-0} ))
  done
  echo "$sum"
}
to_ms() {  # wrk latency (e.g. 812.00us, 1.23ms, 1.01s) -> ms
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}
run_wrk() {  # CONFIG SECONDS OUTFILE (in the background, so a signal's trap runs at once)
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2"s --latency \
    -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:${PORT[$1]}/" > "$3" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || die "wrk failed against ${NAME[$1]}: $(cat "$3")"
  WRK_PID=
}

RAW="$S/raw.tsv"
printf 'round\tconfig\treq_s\tp50_ms\tp99_ms\trequests\tnon2xx\tsocket_errors\tpeak_rss_kb\tpss_kb\tcpu_busy_before\taudit_lines\n' > "$RAW"
if (( WARMUP > 0 )); then
  for c in "${CONFIGS[@]}"; do
    log "warm-up ${WARMUP}s: ${NAME[$c]}"
    run_wrk "$c" "$WARMUP" "$S/wrk/$c-warmup.txt"
  done
fi
audit_lines() { { cat "$S"/zt/zt-audit.jsonl* 2>/dev/null || true; } | wc -l; }
for (( r=1; r<=ROUNDS; r++ )); do
  for c in "${CONFIGS[@]}"; do
    before=0
    [[ $c == d ]] && before=$(audit_lines)
    busy=$(wait_idle)
    log "round $r/$ROUNDS: ${NAME[$c]} (wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s; CPU ${busy}% busy before)"
    f="$S/wrk/$c-r$r.txt"
    run_wrk "$c" "$DURATION" "$f"
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$f")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$f")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$f")")
    reqs=$(awk '/requests in/ { print $1 }' "$f")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$f")
    sockerr=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); gsub(/ /, ""); print }' "$f")
    if [[ -n ${PROXY_PID[$c]:-} ]]; then
      hwm=$(rss_kb "${PROXY_PID[$c]}" VmHWM); pss=$(pss_kb "${PROXY_PID[$c]}")
    else
      hwm=- pss=-
    fi
    alines=-
    [[ $c == d ]] && alines=$(( $(audit_lines) - before ))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$c" "$rps" "$p50" "$p99" \
      "$reqs" "${non2xx:-0}" "${sockerr:-none}" "$hwm" "$pss" "$busy" "$alines" >> "$RAW"
    log "  $rps req/s, p50 ${p50} ms, p99 ${p99} ms, peak RSS ${hwm} kB"
    [[ -n $non2xx ]] && log "  WARNING: $non2xx responses were not 2xx/3xx: this run is not valid"
    [[ -n $sockerr ]] && log "  WARNING: socket errors: $sockerr"
    if [[ $c == d ]] && (( alines * 100 < reqs * 99 )); then
      log "  WARNING: $alines audit lines for $reqs requests"
    fi
  done
done

# ---------------------------------------------------------------- report
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
  if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v c="$1" -v k="$2" 'NR > 1 && $2 == c { print $k }' "$RAW"; }
maxcol() { col "$1" "$2" | awk '$1 != "-" { if ($1 > m) m = $1 } END { print (m == "" ? "-" : m) }'; }
fmt_mib() { [[ $1 == - ]] && echo "—" || awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
fmt_int() { awk -v v="$1" 'BEGIN { printf "%.0f", v }'; }

declare -A RPS P50 P99 HWM PSS
for c in "${CONFIGS[@]}"; do
  RPS[$c]=$(col "$c" 3 | median); P50[$c]=$(col "$c" 4 | median); P99[$c]=$(col "$c" 5 | median)
  HWM[$c]=$(maxcol "$c" 9); PSS[$c]=$(maxcol "$c" 10)
done
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.2f", x / y; else print "-" }'; }

versions() {
  local v
  echo "- wrk: $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')"
  echo "- nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //')"
  if want c; then
    echo "- Apache: $("$APACHE_BIN" -v 2>/dev/null | sed -n 's/^Server version: //p'), mod_auth_openidc $(dpkg-query -W -f '${Version}' libapache2-mod-auth-openidc 2>/dev/null || echo '?')"
  fi
  if want d; then
    echo "- zt: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?') ($ZT_BIN)"
  fi
  v=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
  echo "- machine: $(nproc) CPUs ($v), $(uname -sr)"
}

MD="$S/results.md"
{
  echo "### Load: zt ingress vs nginx and Apache + mod_auth_openidc"
  echo
  echo "wrk \`-t$THREADS -c$CONNECTIONS -d${DURATION}s --latency\`, keep-alive, loopback; GET / with a"
  echo "bearer ES256 JWT; the same upstream (nginx, 1 worker, \`return 200 \"ok\\n\"\`) behind every"
  echo "proxy. Median of $ROUNDS rounds, configurations alternating inside each round. Peak RSS is"
  echo "the sum of VmHWM over the proxy's processes (master and workers); PSS is their summed"
  echo "proportional set size after the run. Run $STAMP."
  echo
  echo "| configuration | req/s | p50 | p99 | peak RSS | PSS |"
  echo "|---|---:|---:|---:|---:|---:|"
  for c in "${CONFIGS[@]}"; do
    echo "| ${NAME[$c]} | $(fmt_int "${RPS[$c]}") | ${P50[$c]} ms | ${P99[$c]} ms | $(fmt_mib "${HWM[$c]}") | $(fmt_mib "${PSS[$c]}") |"
  done
  echo
  if want d && want b; then
    rb=$(ratio "${RPS[d]}" "${RPS[b]}")
    verdict=$(awk -v r="$rb" 'BEGIN { print (r >= 0.90 ? "met" : "not met") }')
    echo "- (d)/(b) throughput: **$rb** (target ≥ 0.90: $verdict)"
  fi
  if want d && want c; then
    rc=$(ratio "${RPS[d]}" "${RPS[c]}")
    verdict=$(awk -v r="$rc" 'BEGIN { print (r >= 3 ? "met" : "not met") }')
    echo "- (d)/(c) throughput: **$rc** (target ≥ 3: $verdict)"
  fi
  if want a && want b; then echo "- (b)/(a) throughput: $(ratio "${RPS[b]}" "${RPS[a]:-0}")"; fi
  echo
  echo "Per-round req/s:"
  echo
  for c in "${CONFIGS[@]}"; do
    echo "- ${c}: $(col "$c" 3 | xargs printf '%.0f ' | sed 's/ $//')"
  done
  echo
  versions
  bad=$(awk -F'\t' 'NR > 1 && ($7 != 0 || $8 != "none") { n++ } END { print n + 0 }' "$RAW")
  idle=$(awk -F'\t' -v t="$IDLE_CPU" 'NR > 1 && $11 >= t { n++ } END { print n + 0 }' "$RAW")
  if (( bad > 0 )); then
    echo "- **WARNING**: $bad run(s) had non-2xx responses or socket errors (see raw.tsv)"
  fi
  if (( idle > 0 )); then
    echo "- **WARNING**: $idle run(s) started on a busy machine (CPU ≥ ${IDLE_CPU}% before the run)"
  fi
} > "$MD"
cp "$MD" "$OUT/results.md"
cp "$RAW" "$OUT/raw.tsv"

echo
cat "$MD"
echo
log "results: $OUT/results.md (raw: $OUT/raw.tsv; wrk output, configs and logs: $S)"
