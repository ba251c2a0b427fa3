# Builds every service binary once; docker-compose.yml picks the one to run.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends zlib1g-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ingestor -p tokenizer -p vault -p auditctl

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates zlib1g && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/ingestor /src/target/release/tokenizer /src/target/release/vault \
     /src/target/release/auditctl /usr/local/bin/
USER 65534
