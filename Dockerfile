# Builds every service binary once; docker-compose.yml picks the one to run.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends zlib1g-dev libssl-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ingestor -p tokenizer -p signer -p indexer -p vault -p query-api -p notifier -p auditctl

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates zlib1g libssl3 curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/ingestor /src/target/release/tokenizer /src/target/release/signer \
     /src/target/release/indexer /src/target/release/vault /src/target/release/query-api \
     /src/target/release/notifier /src/target/release/auditctl /usr/local/bin/
# The volumes (signing keys, the published JWK Set, the index, the notifier's key)
# inherit this owner on first mount. curl serves docker-compose's health checks.
RUN mkdir /keys /jwks /index /notifier && chown 65534 /keys /jwks /index /notifier
USER 65534
