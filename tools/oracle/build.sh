#!/usr/bin/env bash
# Builds the two real Caffes that judge backprop-lint, CPU only, plus the
# `caffe-oracle` program (oracle.cpp beside this file) compiled against each:
#
#   ssd   the SSD-lineage Caffe, from the PyPI source package
#         brocolli-caffe==9.0.2 (BVLC Caffe as carried by the SSD fork), with
#         pycaffe and the Python layer; judges `--flavor ssd`.
#         Into $CAFFE_ORACLE_HOME (default ~/.cache/caffe-oracle):
#           bin/caffe-oracle   the oracle (see oracle.cpp for its output)
#           lib/_caffe.so      Caffe itself (pycaffe's extension module)
#           python/caffe/      pycaffe, with the generated caffe_pb2
#           include/           Caffe's headers and the generated caffe.pb.h, so
#                              that oracle.cpp can be recompiled alone
#           oracle.sha256      hash of the oracle.cpp the binary was built from
#   bvlc  BVLC Caffe master (9b89154) from the shared source tarball
#         ($BACKPROP_LINT_SHARED/caffe-src, else shared/caffe-src beside the
#         checkout, else /work/shared/caffe-src); judges `--flavor bvlc`.
#         Into $CAFFE_ORACLE_HOME/bvlc: bin/caffe-oracle, lib/libcaffe.so,
#         include/, oracle.sha256.
#
# usage: build.sh [ssd|bvlc|all]      (default: all)
#
# Both builds are CPU only, without OpenCV, LMDB or LevelDB (the oracles'
# build profile: tests compare with them using the same build options).
#
# Idempotent: with everything cached it returns at once; when only oracle.cpp
# changed it recompiles just that (seconds). A full build takes 10-15 minutes
# per Caffe on 2 cores. Nothing is written inside the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
prefix=${CAFFE_ORACLE_HOME:-$HOME/.cache/caffe-oracle}
bvlc_prefix=$prefix/bvlc
py=${PYTHON:-python3}
tools_hash=$(cat "$here/oracle.cpp" "$here/layer_types.cpp" | sha256sum | cut -d' ' -f1)
oracle_only_hash=$(sha256sum "$here/oracle.cpp" | cut -d' ' -f1)
bvlc_tarball_name=bvlc-caffe-9b89154.tar.gz
bvlc_tarball_sha256=594606f8d9dbe9e6546dae6c3c468d5f35bc343beaa42d52037713a07e1358c6

what=${1:-all}
case "$what" in
  ssd|bvlc|all) ;;
  *) echo "usage: build.sh [ssd|bvlc|all]" >&2; exit 2 ;;
esac

# Python's headers and library come from the interpreter itself (sysconfig),
# never from sys.prefix: inside a virtualenv sys.prefix is the venv, which has
# neither (the build then failed with "Python.h: No such file").
python_paths() {
  $py - <<'PY'
import sys, sysconfig
include = sysconfig.get_paths()["include"]
libdir = sysconfig.get_config_var("LIBDIR") or ""
library = sysconfig.get_config_var("LDLIBRARY") or ""
print(f"{sys.version_info[0]}.{sys.version_info[1]}")
print(sys.base_prefix)
print(include)
print(f"{libdir}/{library}" if libdir and library else "")
PY
}
mapfile -t _pyinfo < <(python_paths)
pyver=${_pyinfo[0]}
py_base_prefix=${_pyinfo[1]}
py_include=${_pyinfo[2]}
py_library=${_pyinfo[3]}


install_build_deps() {
  local packages=(cmake g++ make libprotobuf-dev protobuf-compiler libgoogle-glog-dev libgflags-dev
    libhdf5-dev libopenblas-dev libgtest-dev libboost-system-dev libboost-thread-dev
    libboost-filesystem-dev libboost-regex-dev libboost-python-dev)
  if dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -qv "install ok installed" ||
     [ "$(dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | wc -l)" -ne "${#packages[@]}" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  fi
}

# ---------------------------------------------------------------- ssd

ssd_is_built() {
  [ -f "$prefix/lib/_caffe.so" ] && [ -f "$prefix/include/caffe/proto/caffe.pb.h" ] && [ -d "$prefix/python/caffe" ]
}

compile_program() {  # compile_program DEST SOURCE NAME CAFFE_LIBRARY [extra link flags...]
  local dest=$1 source=$2 name=$3 library=$4
  shift 4
  mkdir -p "$dest/bin"
  # Build beside the target and rename, so a failed compile never leaves a broken binary.
  g++ -O2 -std=c++14 -DCPU_ONLY=1 -w -I"$dest/include" -I/usr/include/hdf5/serial \
    "$source" -o "$dest/bin/$name.new" \
    -Wl,--no-as-needed "$library" -Wl,--as-needed -lglog -lgflags -lprotobuf -lboost_system "$@" -Wl,-rpath,"$dest/lib"
  mv "$dest/bin/$name.new" "$dest/bin/$name"
}

# oracle.sha256 keeps the hash of oracle.cpp alone (tools/oracle/oracle.py
# checks it); tools.sha256 the hash of both programs' sources.
compile_oracle() {  # compile_oracle DEST CAFFE_LIBRARY [extra link flags...]
  local dest=$1
  shift
  if [ "$(cat "$dest/oracle.sha256" 2>/dev/null)" != "$oracle_only_hash" ] || [ ! -x "$dest/bin/caffe-oracle" ]; then
    compile_program "$dest" "$here/oracle.cpp" caffe-oracle "$@"
    echo "$oracle_only_hash" >"$dest/oracle.sha256"
  fi
  compile_program "$dest" "$here/layer_types.cpp" caffe-layer-types "$@"
  echo "$tools_hash" >"$dest/tools.sha256"
}

oracle_is_current() {  # oracle_is_current DEST
  [ -x "$1/bin/caffe-oracle" ] && [ -x "$1/bin/caffe-layer-types" ] &&
    [ "$(cat "$1/oracle.sha256" 2>/dev/null)" = "$oracle_only_hash" ] &&
    [ "$(cat "$1/tools.sha256" 2>/dev/null)" = "$tools_hash" ]
}

python_link_flags() {
  local flags
  if flags=$(${py}-config --ldflags --embed 2>/dev/null); then
    echo "$flags"
  else
    echo "-L$(dirname "$py_library") -lpython$pyver"
  fi
}

build_ssd() {
  install_build_deps
  local pytag=${pyver/./}
  [ -f "$py_include/Python.h" ] || { echo "caffe oracle: no Python.h in $py_include (install Python's headers)"; exit 1; }
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
    -DANACONDA_HOME="$py_base_prefix" -DPYTHON_VERSION="python$pyver" \
    -DPYTHON_INCLUDE_DIR="$py_include" -DPYTHON_LIBRARY="$py_library" \
    -DCMAKE_CXX_FLAGS="-I$py_include -I$npinc -I/usr/include/hdf5/serial -w" \
    -DCMAKE_SHARED_LINKER_FLAGS="-L$work/libs -L$(dirname "$py_library")" >"$work/cmake.log" 2>&1 || { tail -40 "$work/cmake.log"; exit 1; }
  if [ -n "${CAFFE_ORACLE_CONFIGURE_ONLY:-}" ]; then
    grep -i -E "python|numpy" "$work/build/CMakeCache.txt" | grep -v "^//" | grep -i -E "include|librar" || true
    echo "caffe oracle: ssd configured (CAFFE_ORACLE_CONFIGURE_ONLY set: not compiling)"
    exit 0
  fi
  echo "caffe oracle: compiling the SSD-lineage Caffe (about 10 minutes on 2 cores)"
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
  rm -rf "$work"
  trap - EXIT
}

ensure_ssd() {
  if ssd_is_built && oracle_is_current "$prefix"; then
    echo "caffe oracle (ssd): already built in $prefix"
    return
  fi
  if ssd_is_built; then
    echo "caffe oracle (ssd): Caffe is cached; recompiling oracle.cpp"
  else
    build_ssd
  fi
  # shellcheck disable=SC2046
  compile_oracle "$prefix" "$prefix/lib/_caffe.so" $(python_link_flags)
  echo "caffe oracle (ssd): built in $prefix"
}

# ---------------------------------------------------------------- bvlc

bvlc_tarball() {
  local candidate
  for candidate in ${BACKPROP_LINT_SHARED:+"$BACKPROP_LINT_SHARED/caffe-src"} "$repo/../shared/caffe-src" /work/shared/caffe-src; do
    if [ -f "$candidate/$bvlc_tarball_name" ]; then
      echo "$candidate/$bvlc_tarball_name"
      return
    fi
  done
  echo "caffe oracle (bvlc): $bvlc_tarball_name not found in \$BACKPROP_LINT_SHARED/caffe-src, $repo/../shared/caffe-src or /work/shared/caffe-src" >&2
  return 1
}

bvlc_is_built() {
  [ -f "$bvlc_prefix/lib/libcaffe.so" ] && [ -f "$bvlc_prefix/include/caffe/proto/caffe.pb.h" ]
}

build_bvlc() {
  local tarball
  tarball=$(bvlc_tarball)
  echo "$bvlc_tarball_sha256  $tarball" | sha256sum -c --quiet - ||
    { echo "caffe oracle (bvlc): $tarball is not the expected BVLC 9b89154 archive"; exit 1; }
  install_build_deps
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  tar xzf "$tarball" -C "$work"
  local src="$work/caffe-9b89154"
  # Today's protobuf: CodedInputStream::SetTotalBytesLimit takes one argument.
  sed -i 's/SetTotalBytesLimit(kProtoReadBytesLimit, 536870912)/SetTotalBytesLimit(kProtoReadBytesLimit)/' \
    "$src/src/caffe/util/io.cpp"
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCPU_ONLY=ON -DUSE_OPENCV=OFF \
    -DUSE_LMDB=OFF -DUSE_LEVELDB=OFF -DBUILD_python=OFF -DBUILD_python_layer=OFF -DBUILD_docs=OFF \
    -DBLAS=Open -DCMAKE_CXX_FLAGS="-I/usr/include/hdf5/serial -w" >"$work/cmake.log" 2>&1 || { tail -40 "$work/cmake.log"; exit 1; }
  if [ -n "${CAFFE_ORACLE_CONFIGURE_ONLY:-}" ]; then
    echo "caffe oracle: bvlc configured (CAFFE_ORACLE_CONFIGURE_ONLY set: not compiling)"
    exit 0
  fi
  echo "caffe oracle (bvlc): compiling BVLC Caffe 9b89154 (about 10 minutes on 2 cores)"
  make -C "$work/build" -j"$(nproc)" caffe >"$work/make.log" 2>&1 || { grep -B2 -A6 "error" "$work/make.log" | tail -60; exit 1; }
  rm -rf "$bvlc_prefix/lib" "$bvlc_prefix/include" "$bvlc_prefix/oracle.sha256"
  mkdir -p "$bvlc_prefix/lib" "$bvlc_prefix/include"
  cp -a "$work/build/lib/"libcaffe.so* "$bvlc_prefix/lib/"
  cp -r "$src/include/." "$bvlc_prefix/include/"
  cp -r "$work/build/include/." "$bvlc_prefix/include/"
  rm -f "$bvlc_prefix/include/caffe/proto/caffe.pb.cc"
  rm -rf "$work"
  trap - EXIT
}

ensure_bvlc() {
  if bvlc_is_built && oracle_is_current "$bvlc_prefix"; then
    echo "caffe oracle (bvlc): already built in $bvlc_prefix"
    return
  fi
  if bvlc_is_built; then
    echo "caffe oracle (bvlc): Caffe is cached; recompiling oracle.cpp"
  else
    build_bvlc
  fi
  compile_oracle "$bvlc_prefix" "$bvlc_prefix/lib/libcaffe.so"
  echo "caffe oracle (bvlc): built in $bvlc_prefix"
}

case "$what" in
  ssd) ensure_ssd ;;
  bvlc) ensure_bvlc ;;
  all) ensure_ssd; ensure_bvlc ;;
esac
