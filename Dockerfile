# Build: docker build -t maestro .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
# Cargo.toml declares the benchmarks; cargo wants their files even to build the binary.
COPY benches benches
RUN cargo build --release --locked --bin maestro

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 maestro
COPY --from=build /src/target/release/maestro /usr/local/bin/maestro
USER maestro
ENV MAESTRO_LISTEN=0.0.0.0:8000
EXPOSE 8000
HEALTHCHECK CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
ENTRYPOINT ["maestro"]
CMD ["serve"]
