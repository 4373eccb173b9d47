#!/bin/sh
# Writes nginx's servers for TLS_MODE before nginx starts (run by the nginx image's
# entrypoint from /docker-entrypoint.d; a failure stops the container with its one line).
#   acme   HTTPS with the certificate the acme service keeps in /etc/nginx/tls (Let's
#          Encrypt or another ACME CA); port 80 answers ACME challenges, redirects the rest.
#   files  HTTPS with your own certificate and key: TLS_CERTIFICATE, TLS_CERTIFICATE_KEY.
#   off    plain HTTP behind a load balancer that ends TLS; its X-Forwarded-* headers are
#          believed only from TRUSTED_PROXIES (addresses or CIDRs, space-separated).
# DOMAINS: the names served (comma-separated; the first is the certificate's name).
set -eu

site=/etc/nginx/conf.d/default.conf
fail() {
    echo "nginx: $*" >&2
    exit 1
}

case "${TLS_MODE:-}" in
acme | files | off) ;;
*) fail "TLS_MODE must be acme, files or off, not '${TLS_MODE:-}'" ;;
esac
[ -n "${DOMAINS:-}" ] || fail "DOMAINS is empty: set the names this site serves"
server_names="$(echo "$DOMAINS" | tr ',' ' ') localhost"

# Port 80 in the HTTPS modes: ACME challenges from the shared webroot, then everything
# else to https. Probes keep plain HTTP: the image's healthcheck asks for /nginx-health.
to_https() {
    cat <<CONF
server {
    listen 80;
    server_name $server_names;
    location /.well-known/acme-challenge/ {
        root /var/www/acme;
        default_type text/plain;
    }
    location = /nginx-health {
        access_log off;
        return 200 "ok\n";
    }
    location / {
        return 301 https://\$host\$request_uri;
    }
}
CONF
}

https_server() {
    cat <<CONF
server {
    listen 443 ssl;
    server_name $server_names;
    $1
    include /etc/nginx/site/app.conf;
}
CONF
}

case "$TLS_MODE" in
acme)
    # Read at each handshake through a cache that notices a changed file within 10 s: the
    # acme service's renewals are served without a reload, and no connection is dropped.
    certificate=/etc/nginx/tls/certificate.pem
    servers="$(to_https)
# The certificate file holds the key as well, so a renewal replaces both at once.
map \$ssl_server_name \$acme_certificate {
    default $certificate;
}
ssl_certificate_cache max=8 valid=10s;
$(https_server "ssl_certificate \$acme_certificate;
    ssl_certificate_key \$acme_certificate;")"
    ;;
files)
    for variable in TLS_CERTIFICATE TLS_CERTIFICATE_KEY; do
        eval "path=\${$variable:-}"
        [ -n "$path" ] || fail "TLS_MODE=files needs $variable (a path in the container)"
        # Unset in compose.prod.yaml, a secret is /dev/null: readable, and empty.
        [ -r "$path" ] && [ -s "$path" ] || fail "TLS_MODE=files: cannot read $variable=$path"
    done
    # Read once at start: after replacing the files, `nginx -s reload` serves them.
    servers="$(to_https)
$(https_server "ssl_certificate $TLS_CERTIFICATE;
    ssl_certificate_key $TLS_CERTIFICATE_KEY;")"
    ;;
off)
    trusted=""
    for proxy in ${TRUSTED_PROXIES:-}; do
        trusted="$trusted
    $proxy 1;"
    done
    [ -n "$trusted" ] || echo "nginx: TLS_MODE=off with no TRUSTED_PROXIES: every request counts as plain http" >&2
    servers="# The client's address from the load balancer's X-Forwarded-For, and its scheme (http.conf),
# only when the request came from one of TRUSTED_PROXIES.
geo \$realip_remote_addr \$from_load_balancer {
    default 0;$trusted
}
real_ip_header X-Forwarded-For;
real_ip_recursive on;
$(for proxy in ${TRUSTED_PROXIES:-}; do echo "set_real_ip_from $proxy;"; done)
server {
    listen 80;
    server_name $server_names;
    location = /nginx-health {
        access_log off;
        return 200 \"ok\\n\";
    }
    include /etc/nginx/site/app.conf;
}"
    ;;
esac

{
    echo "# Written by site.sh at start, for TLS_MODE=$TLS_MODE."
    echo "include /etc/nginx/site/http.conf;"
    echo "include /etc/nginx/site/upstream.conf;"
    # No load balancer in front in the HTTPS modes: nobody's X-Forwarded-Proto is believed.
    [ "$TLS_MODE" = off ] || echo "map \$scheme \$from_load_balancer { default 0; }"
    printf "%s\n" "$servers"
} >"$site"
