# gatehouse-proxy: the auth proxy (traffic :8080, admin :9901).
#
#   docker build -f docker/proxy.Dockerfile -t gatehouse-proxy .
#
# Stage 1 builds on Debian 12 with the same -dev packages as scripts/setup.sh.
# Stage 2 is an empty image holding only what scripts/build-rootfs.sh copies:
# the binary, its ELF interpreter and shared libraries, the CA bundle and a
# passwd entry for uid 65532. No shell, no package manager; runs as 65532.
# e2e/tests/rootfs.test.mjs runs the binary from the same root filesystem.
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake ninja-build g++ pkg-config ca-certificates \
      libssl-dev libcpprest-dev libyaml-cpp-dev libyaml-dev prometheus-cpp-dev libspdlog-dev libgtest-dev \
      libgmock-dev libboost-dev libboost-system-dev nlohmann-json3-dev binutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY proxy/ proxy/
COPY operator/ operator/
COPY scripts/build-rootfs.sh scripts/
# The node end-to-end suites are not registered here (no node in this stage).
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGATEHOUSE_BENCH=OFF \
    -DGATEHOUSE_E2E=OFF \
 && cmake --build /build --target gatehouse-proxy \
 && strip /build/proxy/cli/gatehouse-proxy \
 && scripts/build-rootfs.sh /build/proxy/cli/gatehouse-proxy /rootfs

FROM scratch
COPY --from=build /rootfs/ /
USER 65532:65532
EXPOSE 8080 9901
ENTRYPOINT ["/usr/local/bin/gatehouse-proxy"]
CMD ["serve", "--help"]
