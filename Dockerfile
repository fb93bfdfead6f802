# The container benchmark image (bench/container/run.sh builds and runs it).
#
#   docker build -t hijack-bench .          # BASE defaults to debian:bookworm-slim
#   docker run --rm --network host -v /tmp/out:/out hijack-bench bench/run --quick --out /out
#
# Build stage: compiles hijackd, hijackctl, libhijack-agent.so and the per-call benchmark with
# the Debian packages scripts/install-deps names. Runtime stage: those binaries, their shared
# libraries, the servers and load generators the benchmark drives, gnuplot, and bench/.
# Where no registry is reachable, bench/container/base-image.sh makes debian:bookworm-slim
# locally with debootstrap.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
COPY scripts/install-deps /src/scripts/install-deps
RUN /src/scripts/install-deps && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN rm -rf build && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DHIJACK_BUILD_TESTS=OFF \
 && cmake --build /build -j2 --target hijackd hijackctl hijack_agent hijack_bench_call_cost \
 && install -D -m 755 /build/daemon/hijackd /opt/hijack/bin/hijackd \
 && install -D -m 755 /build/cli/hijackctl /opt/hijack/bin/hijackctl \
 && install -D -m 755 /build/bench/hijack_bench_call_cost /opt/hijack/bin/hijack_bench_call_cost \
 && install -D -m 644 /build/agent/libhijack-agent.so /opt/hijack/lib/libhijack-agent.so

FROM ${BASE}
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libspdlog1.10 libfmt9 libseccomp2 \
      lighttpd mini-httpd httperf wrk strace curl procps gnuplot-nox \
 && rm -f /usr/sbin/policy-rc.d && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/hijack /usr/local
COPY bench /opt/hijack-src/bench
WORKDIR /opt/hijack-src
# hijackd finds the agent in ../lib next to its binary; bench/run takes the binaries as given.
ENV HIJACKD=/usr/local/bin/hijackd CALL_COST=/usr/local/bin/hijack_bench_call_cost \
    HIJACK_AGENT_LIBRARY=/usr/local/lib/libhijack-agent.so
CMD ["bench/run", "--quick", "--no-build", "--out", "/out"]
