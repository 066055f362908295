# shellcheck shell=bash
# elasticsearch-secure's parts, sourced by dev-stack.sh (which defines log, die, run_dir, certs_dir, RUN_AS,
# STACK_DIR and ES_SECURE_PASSWORD): its certificates, its keystore, and the ES home it runs from.

# Once per stack dir (kept across `up`s): a self-signed CA and a node certificate signed by it for
# 127.0.0.1 and localhost. Clients need only ca.pem; the keys are readable by their owner only.
ensure_certs() {
  local dir tmp; dir=$(certs_dir)
  [[ -s $dir/ca.pem && -s $dir/node.pem && -s $dir/node.key ]] && return 0
  if ! command -v openssl >/dev/null && ((EUID == 0)) && command -v apt-get >/dev/null; then
    log "installing openssl (Debian package) for the dev certificates"
    { apt-get update -qq && apt-get install -y -qq openssl; } >/dev/null 2>&1 || true
  fi
  command -v openssl >/dev/null ||
    die "elasticsearch-secure needs openssl for its certificates (Debian: apt-get install openssl)"
  log "generating a dev CA and a node certificate in $dir"
  install -d -m 755 "$STACK_DIR/run" "$(run_dir elasticsearch-secure)"
  tmp=$(mktemp -d "$dir.XXXXXX")
  { openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=cloudtrail-es dev CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$tmp/ca.key" -out "$tmp/ca.pem" &&
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tmp/node.key" -out "$tmp/node.csr" &&
    openssl x509 -req -in "$tmp/node.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial -days 3650 \
      -out "$tmp/node.pem" -extfile <(printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth")
  } >"$tmp/openssl.log" 2>&1 || { cat "$tmp/openssl.log" >&2; die "openssl could not make the certificates"; }
  rm -f "$tmp"/{node.csr,ca.srl,openssl.log} && chmod 600 "$tmp"/*.key && chmod 644 "$tmp"/*.pem && chmod 755 "$tmp"
  rm -rf "$dir" && mv "$tmp" "$dir"
}

# elasticsearch-secure's keystore holds `elastic`'s password (bootstrap.password, read at first start). It is
# made once per password with the zip's CLI (a JVM, ~3 s) as the service user, and kept beside the certs.
install_keystore() {
  local home=$1 run ks; shift; run=$(run_dir elasticsearch-secure)
  ks="$(certs_dir)/keystore-$(printf '%s' "$ES_SECURE_PASSWORD" | sha256sum | cut -c1-12)"
  if [[ -s $ks ]]; then "${RUN_AS[@]}" cp "$ks" "$run/config/elasticsearch.keystore"; return; fi
  printf '%s' "$ES_SECURE_PASSWORD" | "${RUN_AS[@]}" env "$@" "$home/bin/elasticsearch-keystore" add -x -f \
    bootstrap.password >"$run/logs/keystore.log" 2>&1 || { cat "$run/logs/keystore.log" >&2; die "cannot write $ks"; }
  "${RUN_AS[@]}" cp "$run/config/elasticsearch.keystore" "$ks"
}

# The integ-test zip lacks analysis-common, which the `.security` index's settings need, so API keys and
# native users could not exist. elasticsearch-secure therefore runs from a hard-linked copy of the ES home
# with a stub stable plugin (scripts/dev/es-security-stub) in plugins/: ES reads plugins only from its home, and
# the plain node must not see it. Built once per zip and stub source; prints the copy's path.
secure_home() {
  local home=$1 jdk=$2 src="$REPO_ROOT/scripts/dev/es-security-stub/SecurityIndexAnalysis.java" shome tmp dir
  shome="$home-secure-$(sha256sum "$src" | cut -c1-8)"
  if [[ -d $shome ]]; then echo "$shome"; return; fi
  [[ -x $jdk/bin/javac ]] || die "elasticsearch-secure needs a JDK with javac (none in $jdk)"
  log "building $shome (ES home + the .security index analysis stub)"
  tmp=$(mktemp -d "$STACK_DIR/servers/.secure.XXXXXX") && dir="$tmp/home/plugins/security-index-analysis-stub"
  cp -al "$home" "$tmp/home" && mkdir -p "$dir" "$tmp/classes"
  { "$jdk/bin/javac" --release 17 -d "$tmp/classes" -cp "$home/lib/*" "$src" &&
    "$jdk/bin/jar" cf "$dir/stub.jar" -C "$tmp/classes" .; } >&2 || die "could not build $src"
  local class=cloudtrailes.devstack.SecurityIndexAnalysis
  cat >"$dir/stable-plugin-descriptor.properties" <<EOF
name=security-index-analysis-stub
description=dev-stack stand-ins for the analysis components of the .security index
version=1
java.version=17
elasticsearch.version=$ES_VERSION
EOF
  cat >"$dir/named_components.json" <<EOF
{"org.elasticsearch.plugin.analysis.TokenizerFactory": {"uax_url_email": "$class\$UaxUrlEmail"},
 "org.elasticsearch.plugin.analysis.TokenFilterFactory":
   {"pattern_capture": "$class\$PatternCapture", "unique": "$class\$Unique"}}
EOF
  chmod -R a+rX "$tmp/home" && mv "$tmp/home" "$shome" && rm -rf "$tmp"
  echo "$shome"
}
