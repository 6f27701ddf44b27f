# The hearsay agent as a static binary in an empty image.
#   docker build -f deploy/Dockerfile.builder -t hearsay .
# Alpine's Rust targets musl and links statically; nothing in the build needs OpenSSL or C.
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p hearsay-agent \
 && mkdir -p /out/data \
 && cp target/release/hearsay /out/hearsay

FROM scratch
COPY --from=build /out/hearsay /hearsay
COPY --from=build /out/data /data
# Gossip (UDP datagrams and TCP streams on the same port) and the HTTP API.
EXPOSE 7946/udp 7946/tcp 7947/tcp
VOLUME /data
ENTRYPOINT ["/hearsay"]
# bind 0.0.0.0 needs --advertise (the address peers use): compose and Kubernetes pass it.
CMD ["agent", "--bind", "0.0.0.0:7946", "--http", "0.0.0.0:7947", "--data-dir", "/data"]
