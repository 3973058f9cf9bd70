# Makefile — builds libquintet, the quintet harness and the tests into build/.
#
#   make            build everything (builds only: never runs the installer)
#   make test       install missing dependencies (ci/install.sh), build, run every test binary
#                   (CUnit); non-zero exit on any failure
#   make bench      install, build, run the quick profile of every suite into results/quintet.db
#                   and print its one-screen summary (the full table: build/quintet show)
#   make check-asan build with AddressSanitizer + UBSan into build-asan/ and run the tests
#   make fuzz       build the libFuzzer targets (clang) into build-fuzz/ and run each FUZZ_SECONDS
#   make clean
# Knobs: NO_CUDA=1, NO_MPI=1, NO_PAPI=1, QT_SKIP_INSTALL=1 (never run the installer),
#        QT_DEPS_PREFIX=DIR (headers/libs unpacked under DIR/usr, e.g. on the GPU machine),
#        OPT='-O3 -march=native' (optimisation flags),
#        CUDA_HOME=DIR (the CUDA toolkit; default: the folder above the nvcc found on PATH),
#        NVCC_GENCODE='-arch=sm_90' (the GPU code nvcc emits; default sm_90, the H200).
# The outer level runs the installer for test, bench, check-asan and fuzz, then re-invokes
# make so that detection (nvcc, mpicc, PAPI, OpenBLAS) sees what was just installed; the
# build-only goals (all, lib, quintet, tests, mpi, cuda) never run it.

ifndef QT_INNER
.DEFAULT_GOAL := all
BUILD_GOALS := all lib quintet tests mpi cuda
INSTALL_GOALS := test bench check-asan fuzz
.PHONY: $(BUILD_GOALS) $(INSTALL_GOALS) deps clean
$(BUILD_GOALS):
	@$(MAKE) --no-print-directory QT_INNER=1 $@
$(INSTALL_GOALS): deps
	@$(MAKE) --no-print-directory QT_INNER=1 $@
deps:
	@if [ -z "$(QT_SKIP_INSTALL)" ] && [ -z "$(QT_DEPS_PREFIX)" ]; then ci/install.sh; fi
clean:
	rm -rf build build-asan build-fuzz
else
include mk/build.mk
endif
