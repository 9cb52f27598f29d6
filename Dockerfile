# Build: docker build -t maestro .
# The web app: typed documents checked against schema.graphql, built into ui/dist.
FROM node:20-bookworm-slim AS ui
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY schema.graphql /src/schema.graphql
COPY ui ./
RUN npm run build

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: a change to the code does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for b in api login_storm subscriptions load growth; do echo 'fn main() {}' > benches/$b.rs; done \
    && cargo build --release --locked --bin maestro \
    && rm -rf src benches
COPY src src
COPY migrations migrations
# build.rs embeds the web app's files in the binary.
COPY build.rs build.rs
COPY --from=ui /src/ui/dist ui/dist
# The statements' descriptions the sqlx macros check against: no database at build time.
COPY .sqlx .sqlx
ENV SQLX_OFFLINE=true
# Cargo.toml declares the benchmarks; cargo wants their files even to build the binary.
COPY benches benches
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin maestro

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/maestro --create-home maestro
COPY --from=build /src/target/release/maestro /usr/local/bin/maestro
USER maestro
WORKDIR /var/lib/maestro
# The local artifact store (when no S3 is configured) in a directory the user owns.
ENV MAESTRO_LISTEN=0.0.0.0:8000 MAESTRO_DATA_DIR=/var/lib/maestro/data
EXPOSE 8000
HEALTHCHECK CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
ENTRYPOINT ["maestro"]
CMD ["serve"]
