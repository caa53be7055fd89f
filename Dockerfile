# spliceproxy: the proxy, tcp_ping_server, tcp_ping_client and the soak runner in one image.
#   docker build -t spliceproxy .
#   docker run --rm -e SOAK_MODE=splice -e SOAK_DURATION=600 spliceproxy    # a 10-minute soak
# The default command is the soak runner (scripts/soak; `docker run --rm spliceproxy -h`).
# docs/soak.md has docker run, docker compose, the swarm stack (deploy/stack.yml) and the offline
# build with Docker or podman (scripts/container-check).
# Both stages use debian:bookworm: it is the one base image that scripts/container-check can make
# offline (debootstrap), and the runtime stage only adds a few small packages to it.

# ---- build: compile Release, run the unit tests (unless UNIT_TESTS=0) --------------------------
FROM debian:bookworm AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config libtbb-dev nlohmann-json3-dev libgtest-dev liburing-dev \
      clang libbpf-dev bpftool \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# UNIT_TESTS=0 builds the programs only (CI, which ran the whole suite on the same source first).
ARG UNIT_TESTS=1
# No man pages in the image (they need help2man; the .deb has them: docs/service.md).
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAN_PAGES=OFF \
 && cmake --build build -j"$(nproc)" --target proxy tcp_ping_server tcp_ping_client proxy-top \
      $(if [ "$UNIT_TESTS" = 1 ]; then echo unit_tests; fi)
RUN if [ "$UNIT_TESTS" = 1 ]; then cd build && ctest -L unit --output-on-failure --timeout 300; fi

# ---- runtime: the three binaries, the soak runner (python3, standard library only) and what the
# HEALTHCHECK uses (nc, jq) ---------------------------------------------------------------------
FROM debian:bookworm
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends libtbb12 liburing2 libbpf1 python3 jq netcat-openbsd procps \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/soak soak
COPY --from=build /src/build/bin/proxy /src/build/bin/tcp_ping_server /src/build/bin/tcp_ping_client /src/build/bin/proxy-top /usr/local/bin/
COPY scripts/soak /usr/local/bin/soak
COPY scripts/sptools/ /usr/local/share/spliceproxy/sptools/
COPY python/spcore/ /usr/local/share/spliceproxy/spcore/
COPY docs/soak.md /usr/local/share/doc/spliceproxy/soak.md

# Inside its own network namespace the image uses the seed's ports; the proxy and its stats socket
# listen on every address so that `-p 127.0.0.1:9997:9997` reaches the stats from the host.
# With --network host, give free ports instead (scripts/container-check does).
ENV SOAK_BIN=/usr/local/bin \
    SOAK_LISTEN=0.0.0.0 \
    SOAK_SERVER_PORT=9999 \
    SOAK_PROXY_PORT=9998 \
    SOAK_STATS_PORT=9997 \
    SOAK_LOG_DIR=/var/lib/soak/logs
USER soak
WORKDIR /var/lib/soak
EXPOSE 9997
# Healthy while the stats socket answers: the proxy started by the soak runner, or a proxy or
# tcp_ping_server run as the command (docker-compose.yml sets SOAK_STATS_PORT to match).
HEALTHCHECK --interval=5s --timeout=5s --start-period=15s --retries=3 \
  CMD echo stats | nc -q1 127.0.0.1 "${SOAK_STATS_PORT:-9997}" | jq -e .version >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/soak"]
