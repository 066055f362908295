# cloudtrail-es in a container: a static-ish Rust binary (rustls, no OpenSSL) on a slim Debian.
#   docker build -t cloudtrail-es .
#   docker run --rm cloudtrail-es --help
# Used by docker-compose.yml; versions pinned (the Rust image matches the toolchain the project is
# tested with).

FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
# Only what the build reads: the manifest and lock file, the sources, and the JSON/NDJSON the
# binary embeds (mappings/, kibana/).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY mappings ./mappings
COPY kibana ./kibana
COPY rules ./rules
RUN cargo build --release --locked --bin cloudtrail-es \
 && cp target/release/cloudtrail-es /cloudtrail-es

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o 65534 -g 65534 /data
COPY --from=build /cloudtrail-es /usr/local/bin/cloudtrail-es
# The dead-letter file (and --state, if used) are written to the working directory: mount a
# volume on /data to keep them.
WORKDIR /data
USER 65534:65534
ENTRYPOINT ["cloudtrail-es"]
CMD ["--help"]
