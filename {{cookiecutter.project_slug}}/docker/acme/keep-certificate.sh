#!/bin/sh
# The acme service (TLS_MODE=acme): gets a certificate for DOMAINS from the ACME CA at
# ACME_DIRECTORY with certbot's HTTP-01 challenge, and keeps it current. nginx reads it from
# /tls/certificate.pem at each handshake (docker/nginx/site.sh), so a renewal needs no
# reload. https://eff-certbot.readthedocs.io/en/stable/using.html#webroot
#   keep-certificate.sh                   serve at once, obtain, then renew when due
#   keep-certificate.sh once [OPTIONS]    one attempt now, e.g. `once --force-renewal`
set -eu

certificate=/tls/certificate.pem
webroot=/var/www/acme
# certbot's name for the certificate: its folder under /etc/letsencrypt/live.
name=site
# How often certbot is asked whether the certificate is due (it renews with a third of its
# lifetime left, or when the CA's renewal information says so), with up to an hour's
# jitter so that many hosts started together do not ask the CA at the same moment.
check_seconds=${ACME_CHECK_SECONDS:-43200}
# After a failure, wait this long, then twice as long each time, up to check_seconds.
retry_seconds=${ACME_RETRY_SECONDS:-60}

log() { echo "acme: $*"; }

# Idle in the other modes, rather than exit: `docker compose up --wait` counts a service
# that has exited as failed.
if [ "${TLS_MODE:-}" != acme ]; then
    log "TLS_MODE is ${TLS_MODE:-not set}, not acme: nothing to do"
    while :; do sleep 86400; done
fi
: "${DOMAINS:?is empty: set the names to get a certificate for}"
: "${ACME_DIRECTORY:?is empty: set the directory URL of the ACME CA}"
first_domain=${DOMAINS%%,*}

# Into place in one rename (the key first, then the chain, in one file), readable by
# nginx's workers (group 101 in the nginx image) and nobody else.
install_certificate() {
    new=$(mktemp /tls/.certificate.XXXXXX)
    cat "$1" "$2" >"$new"
    chown 0:101 "$new"
    chmod 0640 "$new"
    mv "$new" "$certificate"
}

# Until the CA has issued one, nginx serves a self-signed certificate, so HTTPS is up at
# once (browsers warn).
serve_temporary_certificate() {
    [ -s "$certificate" ] && return
    scratch=$(mktemp -d)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=$first_domain" -addext "subjectAltName=DNS:$first_domain" \
        -keyout "$scratch/key.pem" -out "$scratch/certificate.pem" 2>/dev/null
    install_certificate "$scratch/key.pem" "$scratch/certificate.pem"
    rm -rf "$scratch"
    log "serving a temporary self-signed certificate for $first_domain until the CA issues one"
}

# The CA will fetch http://<each domain>/.well-known/acme-challenge/<token> from this
# nginx. Try that first with a token of our own: a name whose DNS or firewall does not
# lead here fails now, with its name, instead of as a failed validation the CA counts
# against its rate limits.
challenge_reachable() {
    token=reachable-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    mkdir -p "$webroot/.well-known/acme-challenge"
    echo "$token" >"$webroot/.well-known/acme-challenge/$token"
    unreachable=""
    for domain in $(echo "$DOMAINS" | tr ',' ' '); do
        python3 - "http://$domain/.well-known/acme-challenge/$token" "$token" 2>/dev/null <<'PY' ||
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as answer:
    sys.exit(answer.read().decode().strip() != sys.argv[2])
PY
            unreachable="$unreachable $domain"
    done
    rm -f "$webroot/.well-known/acme-challenge/$token"
    if [ -n "$unreachable" ]; then
        log "http://<name>/.well-known/acme-challenge/ does not reach this nginx for:$unreachable (check DNS and that port 80 is open)"
        return 1
    fi
}

# certbot decides: a new certificate when there is none (or DOMAINS changed), a renewal
# when due, otherwise nothing. Then nginx's file follows certbot's latest.
renew_if_due() {
    lineage=/etc/letsencrypt/live/$name
    if [ -n "${ACME_EMAIL:-}" ]; then
        contact="--email $ACME_EMAIL"
    else
        contact=--register-unsafely-without-email
    fi
    # shellcheck disable=SC2086 # $contact is two words or one
    certbot certonly --non-interactive --quiet --agree-tos $contact \
        --server "$ACME_DIRECTORY" --webroot --webroot-path "$webroot" \
        --cert-name "$name" --domains "$DOMAINS" --keep-until-expiring \
        ${ACME_PROFILE:+--preferred-profile "$ACME_PROFILE"} "$@" || return 1
    if ! cat "$lineage/privkey.pem" "$lineage/fullchain.pem" | cmp -s - "$certificate"; then
        install_certificate "$lineage/privkey.pem" "$lineage/fullchain.pem"
        log "now serving $(openssl x509 -noout -serial -enddate -in "$lineage/cert.pem" | tr '\n' ' ')"
    fi
}

attempt() {
    challenge_reachable && renew_if_due "$@"
}

serve_temporary_certificate
if [ "${1:-}" = once ]; then
    shift
    attempt "$@"
    exit
fi

retry=$retry_seconds
while :; do
    if attempt; then
        retry=$retry_seconds
        pause=$((check_seconds + $(od -An -N2 -tu2 /dev/urandom) * 3600 / 65536))
    else
        log "no certificate from $ACME_DIRECTORY for $DOMAINS this time (the reason is above); next try in ${retry}s"
        pause=$retry
        retry=$((retry * 2 > check_seconds ? check_seconds : retry * 2))
    fi
    sleep "$pause"
done
