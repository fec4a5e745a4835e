#!/usr/bin/env bash
# Builds real Caffe (CPU only, pycaffe included) from the PyPI source package
# brocolli-caffe==9.0.2 (BVLC Caffe as carried by the SSD fork), plus the
# `caffe-oracle` program from oracle.cpp beside this file.
#
# Result in $CAFFE_ORACLE_HOME (default ~/.cache/caffe-oracle):
#   bin/caffe-oracle     the oracle (see oracle.cpp for its output)
#   lib/_caffe.so        Caffe itself (pycaffe's extension module)
#   python/caffe/        pycaffe, with the generated caffe_pb2
#   include/             Caffe's headers and the generated caffe.pb.h, so that
#                        oracle.cpp can be recompiled without rebuilding Caffe
#   oracle.sha256        hash of the oracle.cpp the binary was built from
#
# Idempotent: with everything cached it returns at once; when only oracle.cpp
# changed it recompiles just that (seconds). A full build takes 10-15 minutes
# on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=${CAFFE_ORACLE_HOME:-$HOME/.cache/caffe-oracle}
py=${PYTHON:-python3}
pyver=$($py -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
oracle_hash=$(sha256sum "$here/oracle.cpp" | cut -d' ' -f1)

caffe_is_built() {
  [ -f "$prefix/lib/_caffe.so" ] && [ -f "$prefix/include/caffe/proto/caffe.pb.h" ] && [ -d "$prefix/python/caffe" ]
}

oracle_is_current() {
  [ -x "$prefix/bin/caffe-oracle" ] && [ "$(cat "$prefix/oracle.sha256" 2>/dev/null)" = "$oracle_hash" ]
}

compile_oracle() {
  mkdir -p "$prefix/bin"
  # Build beside the target and rename, so a failed compile never leaves a broken binary.
  g++ -O2 -std=c++14 -DCPU_ONLY=1 -w -I"$prefix/include" -I/usr/include/hdf5/serial \
    "$here/oracle.cpp" -o "$prefix/bin/caffe-oracle.new" \
    "$prefix/lib/_caffe.so" -lglog -lgflags -lprotobuf -lboost_system \
    $(${py}-config --ldflags --embed 2>/dev/null || echo "-lpython$pyver") -Wl,-rpath,"$prefix/lib"
  mv "$prefix/bin/caffe-oracle.new" "$prefix/bin/caffe-oracle"
  echo "$oracle_hash" >"$prefix/oracle.sha256"
}

build_caffe() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends cmake g++ make libprotobuf-dev protobuf-compiler \
    libgoogle-glog-dev libgflags-dev libhdf5-dev libopenblas-dev libgtest-dev \
    libboost-system-dev libboost-thread-dev libboost-filesystem-dev libboost-regex-dev libboost-python-dev >/dev/null
  local pytag=${pyver/./}
  local pyprefix
  pyprefix=$($py -c 'import sys; print(sys.prefix)')
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # numpy headers for pycaffe: from this Python if it has numpy, else from a throwaway install.
  local npinc
  if ! npinc=$($py -c 'import numpy; print(numpy.get_include())' 2>/dev/null); then
    $py -m pip install -q --target "$work/np" numpy
    npinc=$(PYTHONPATH="$work/np" $py -c 'import numpy; print(numpy.get_include())')
  fi
  $py -m pip download -q --no-deps --no-binary :all: brocolli-caffe==9.0.2 -d "$work"
  tar xzf "$work"/brocolli-caffe-9.0.2.tar.gz -C "$work"
  local src="$work/brocolli-caffe-9.0.2"
  # The sdist's CMake links plain -lboost_python -lhdf5 -lhdf5_hl; Debian names them otherwise.
  local arch
  arch=$(gcc -dumpmachine)
  mkdir -p "$work/libs"
  ln -sf "/usr/lib/$arch/libboost_python${pytag}.so" "$work/libs/libboost_python.so"
  ln -sf "/usr/lib/$arch/hdf5/serial/libhdf5.so" "$work/libs/libhdf5.so"
  ln -sf "/usr/lib/$arch/hdf5/serial/libhdf5_hl.so" "$work/libs/libhdf5_hl.so"
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_python_layer=ON \
    -DANACONDA_HOME="$pyprefix" -DPYTHON_VERSION="python$pyver" \
    -DCMAKE_CXX_FLAGS="-I$npinc -I/usr/include/hdf5/serial -w" \
    -DCMAKE_SHARED_LINKER_FLAGS="-L$work/libs" >"$work/cmake.log" 2>&1 || { tail -40 "$work/cmake.log"; exit 1; }
  echo "caffe oracle: compiling Caffe (about 10 minutes on 2 cores)"
  make -C "$work/build" -j"$(nproc)" >"$work/make.log" 2>&1 || { grep -B2 -A6 "error" "$work/make.log" | tail -60; exit 1; }
  rm -rf "$prefix/lib" "$prefix/python" "$prefix/include" "$prefix/oracle.sha256"
  mkdir -p "$prefix/lib" "$prefix/python" "$prefix/include"
  cp "$work/build/lib/_caffe.so" "$prefix/lib/"
  cp -r "$src/python/caffe" "$prefix/python/"
  rm -f "$prefix/python/caffe/_caffe.so"
  ln -sf "$prefix/lib/_caffe.so" "$prefix/python/caffe/_caffe.so"
  # One include dir: the shipped headers, then the generated ones over them (the
  # sdist carries a stale caffe.pb.h that the generated one must replace).
  cp -r "$src/include/." "$prefix/include/"
  cp -r "$work/build/include/." "$prefix/include/"
  cp "$work/build/caffe_config.h" "$prefix/include/"
  rm -f "$prefix/include/caffe/proto/caffe.pb.cc" "$prefix/include/caffe/proto/caffe_pb2.py"
}

if caffe_is_built && oracle_is_current; then
  echo "caffe oracle: already built in $prefix"
  exit 0
fi
if caffe_is_built; then
  echo "caffe oracle: Caffe is cached; recompiling oracle.cpp"
else
  build_caffe
fi
compile_oracle
echo "caffe oracle: built in $prefix"
