# Makefile — builds libquintet, the quintet harness and the tests into build/.
#
#   make            build everything (installs missing dependencies first: ci/install.sh)
#   make test       build and run every test binary (CUnit); non-zero exit on any failure
#   make bench      run the quick profile of every suite into results/quintet.db and print it
#   make check-asan build with AddressSanitizer + UBSan into build-asan/ and run the tests
#   make fuzz       build the libFuzzer targets (clang) into build-fuzz/ and run each FUZZ_SECONDS
#   make clean
# Knobs: NO_CUDA=1, NO_MPI=1, NO_PAPI=1, QT_SKIP_INSTALL=1 (never run the installer),
#        QT_DEPS_PREFIX=DIR (headers/libs unpacked under DIR/usr, e.g. on the GPU machine),
#        OPT='-O3 -march=native' (optimisation flags).
# The outer level runs the installer, then re-invokes make so that detection
# (nvcc, mpicc, PAPI, OpenBLAS) sees what was just installed.

ifndef QT_INNER
.DEFAULT_GOAL := all
GOALS := all lib quintet tests test bench check-asan fuzz mpi cuda
.PHONY: $(GOALS) deps clean
$(GOALS): deps
	@$(MAKE) --no-print-directory QT_INNER=1 $@
deps:
	@if [ -z "$(QT_SKIP_INSTALL)" ] && [ -z "$(QT_DEPS_PREFIX)" ]; then ci/install.sh; fi
clean:
	rm -rf build build-asan build-fuzz
else
include mk/build.mk
endif
