# mk/build.mk — the real build, included by Makefile after dependencies are installed.
BUILD ?= build
CC := gcc
CXX := g++
OPT ?= -O3 -march=native
SAN ?=

# ---- dependency detection -------------------------------------------------
ifdef QT_DEPS_PREFIX
DEP_INC := -I$(QT_DEPS_PREFIX)/usr/include -I$(QT_DEPS_PREFIX)/usr/include/x86_64-linux-gnu
DEP_LIB := -L$(QT_DEPS_PREFIX)/usr/lib/x86_64-linux-gnu -Wl,--disable-new-dtags -Wl,-rpath,$(abspath $(QT_DEPS_PREFIX))/usr/lib/x86_64-linux-gnu
endif
BLAS_INC := $(firstword $(wildcard /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas /usr/include/x86_64-linux-gnu))
BLAS_LIBDIR := $(firstword $(wildcard /usr/lib/x86_64-linux-gnu/openblas-pthread))
HASH := \#
COMMA := ,
have_header = $(shell printf '$(HASH)include <$(1)>\nint main(void){return 0;}\n' | $(CC) $(DEP_INC) -I$(BLAS_INC) -x c - -o /dev/null $(DEP_LIB) $(2) 2>/dev/null && echo 1)

HAVE_BLAS := $(call have_header,cblas.h,$(if $(BLAS_LIBDIR),-L$(BLAS_LIBDIR)) -lopenblas)
ifndef NO_PAPI
HAVE_PAPI := $(call have_header,papi.h,-lpapi -lsde)
endif
# jansson reads and writes JSON (Google Benchmark JSON in `show --format gbench-json` and `import`);
# without it the build still works and those two fail with a message naming libjansson-dev.
ifndef NO_JANSSON
HAVE_JANSSON := $(call have_header,jansson.h,-ljansson)
endif
ifndef NO_CUDA
NVCC := $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
endif
ifndef NO_MPI
MPICC := $(shell command -v mpicc 2>/dev/null)
endif
# CUDA_HOME: the toolkit's folder; by default the one nvcc lives in (override: make CUDA_HOME=/opt/cuda).
CUDA_HOME ?= $(if $(NVCC),$(abspath $(dir $(NVCC))..))
# NVCC_GENCODE: the GPU code nvcc emits (default the H200's sm_90; e.g. make NVCC_GENCODE='-gencode=arch=compute_90a,code=sm_90a').
NVCC_GENCODE ?= -arch=sm_90
# nvcc alone is not enough (a toolkit can ship the compiler without the runtime): CUDA parts are
# built only when a program links against libcudart and libcublas from the toolkit's own folders.
CUDA_LIBDIR := $(if $(NVCC),$(patsubst %/,%,$(firstword $(dir $(wildcard $(addsuffix /libcudart.so,$(CUDA_HOME)/lib64 $(CUDA_HOME)/lib $(CUDA_HOME)/targets/x86_64-linux/lib))))))
CUDA_LDIR := $(if $(CUDA_LIBDIR),-L$(CUDA_LIBDIR) -Wl$(COMMA)-rpath$(COMMA)$(CUDA_LIBDIR))
CUDA_LINK := -I$(CUDA_HOME)/include $(CUDA_LDIR)
HAVE_CUDA := $(if $(NVCC),$(call have_header,cublas_v2.h,$(CUDA_LINK) -lcudart -lcublas))
HAVE_NCCL := $(if $(HAVE_CUDA),$(call have_header,nccl.h,$(CUDA_LINK) -lnccl),)

$(info quintet build: OpenBLAS $(if $(HAVE_BLAS),found,NOT FOUND) | PAPI $(if $(HAVE_PAPI),found,not found$(if $(NO_PAPI), (NO_PAPI=1))) | jansson $(if $(HAVE_JANSSON),found,not found$(if $(NO_JANSSON), (NO_JANSSON=1)): no Google Benchmark JSON) | CUDA $(if $(HAVE_CUDA),found ($(NVCC)),$(if $(NVCC),off: $(NVCC) found but libcudart/libcublas do not link,not found$(if $(NO_CUDA), (NO_CUDA=1)))) | NCCL $(if $(HAVE_NCCL),found,not found) | mpicc $(if $(MPICC),found,not found$(if $(NO_MPI), (NO_MPI=1))))
ifeq ($(HAVE_BLAS),)
$(error OpenBLAS (cblas.h, libopenblas) is required: run ci/install.sh)
endif

# ---- MPI backend (impl/backends/mpi, issue 12) ------------------------------
# With mpicc (OpenMPI's --showme), libquintet, quintet and the tests are compiled and linked
# against MPI and the registry gains the `mpi` backend (QT_HAVE_MPI_BACKEND). NO_MPI=1, or no
# mpicc, builds without it; tests/dist then skips, saying why (QT_MPIRUN empty).
ifneq ($(MPICC),)
MPI_CFLAGS := $(shell $(MPICC) --showme:compile 2>/dev/null)
MPI_LDFLAGS := $(shell $(MPICC) --showme:link 2>/dev/null)
endif
HAVE_MPI_BACKEND := $(if $(MPI_LDFLAGS),1)
# ---- NCCL backend (impl/backends/nccl, issue 15): needs CUDA, NCCL and the mpi backend (MPI
# bootstraps the NCCL unique id); nccl.c is C compiled by gcc against the toolkit's headers.
HAVE_NCCL_BACKEND := $(and $(HAVE_NCCL),$(HAVE_MPI_BACKEND))
QT_MPIRUN := $(if $(HAVE_MPI_BACKEND),mpirun --allow-run-as-root --oversubscribe)

# ---- flags ----------------------------------------------------------------
DEFS := -D_GNU_SOURCE $(if $(HAVE_PAPI),-DQT_HAVE_PAPI) $(if $(HAVE_JANSSON),-DQT_HAVE_JANSSON) $(if $(HAVE_CUDA),-DQT_HAVE_CUDA) $(if $(MPICC),-DQT_HAVE_MPI) $(if $(HAVE_NCCL),-DQT_HAVE_NCCL) $(if $(HAVE_MPI_BACKEND),-DQT_HAVE_MPI_BACKEND) $(if $(HAVE_NCCL_BACKEND),-DQT_HAVE_NCCL_BACKEND)
# Includes name their room: "quintet/x.h" (public API), "testing/x.h" (impl/testing),
# "store/store.h", "run/suite.h", ... (harness/<room>/).
INC := -Iimpl/include -Iimpl -Iharness -Isuites -I$(BUILD)/gen $(DEP_INC) -I$(BLAS_INC) $(MPI_CFLAGS)
# -Wno-format-truncation: snprintf into fixed message buffers truncates on purpose; GCC's
# estimate of that depends on the optimisation level (-O1 of check-asan warns where -O3 does not).
CFLAGS := -std=c11 -g $(OPT) -fno-math-errno -fopenmp -fPIC -Wall -Wextra -Werror -Wno-format-truncation $(SAN) $(DEFS) $(INC) -DQT_COMPILER='"$(shell $(CC) --version | head -n1)"' -DQT_CFLAGS='"$(OPT) -fno-math-errno -fopenmp $(SAN)"' -DQT_SOURCE_DIR='"$(CURDIR)"'
GBENCH_VERSION := $(or $(shell pkg-config --modversion benchmark 2>/dev/null),$(shell dpkg-query -W -f='$${Version}' libbenchmark-dev 2>/dev/null),unknown)
CXXFLAGS := -std=c++17 -g $(OPT) -fPIC -Wall -Wextra -Werror $(SAN) $(DEFS) $(INC) -DQT_GBENCH_VERSION='"$(GBENCH_VERSION)"'
NVCCFLAGS := -O3 $(NVCC_GENCODE) -Xcompiler -fPIC $(DEFS) -Iimpl/include -Iharness
# libquintet exports only its public API (functions marked QT_API in impl/include/quintet/).
LIB_VIS := -fvisibility=hidden
CUDA_LIBS := $(if $(HAVE_CUDA),$(CUDA_LDIR) -lcudart -lcublas -lcublasLt $(if $(HAVE_NCCL),-lnccl))
LDLIBS := $(DEP_LIB) $(if $(BLAS_LIBDIR),-L$(BLAS_LIBDIR) -Wl$(COMMA)-rpath$(COMMA)$(BLAS_LIBDIR)) -lbenchmark -lsqlite3 -lopenblas \
          $(if $(HAVE_PAPI),-lpapi -lsde) $(if $(HAVE_JANSSON),-ljansson) $(CUDA_LIBS) $(MPI_LDFLAGS) -lstdc++ -lpthread -lm -fopenmp $(SAN)

# Quiet by default: one line per step; V=1 prints the commands.
Q := $(if $(V),,@)
say = $(if $(V),,@echo '  $(1) $(2)';)

# ---- sources --------------------------------------------------------------
# impl/testing/ is not part of libquintet: it is libqttesting.a (tests, verify, trace).
TESTING_SRC := $(wildcard impl/testing/*.c)
LIB_SRC := $(filter-out impl/%/mpi.c impl/%/nccl.c $(TESTING_SRC),$(wildcard impl/*/*.c impl/backends/*/*.c)) \
           $(if $(HAVE_MPI_BACKEND),impl/backends/mpi/mpi.c) $(if $(HAVE_NCCL_BACKEND),impl/backends/nccl/nccl.c)
CU_SRC := $(if $(HAVE_CUDA),$(sort $(wildcard impl/*/*.cu impl/*/cuda/*.cu impl/backends/*/*.cu)))
# harness/<room>/ sources, found recursively; harness/run/mpi/ holds separate MPI programs.
harness_find = $(shell find harness -name '*.$(1)' -not -path 'harness/run/mpi/*' | sort)
HARNESS_CU := $(if $(HAVE_CUDA),$(call harness_find,cu))
HARNESS_SRC := $(filter-out harness/cli/main.c,$(call harness_find,c)) $(wildcard suites/*.c)
HARNESS_CC := $(call harness_find,cc)
TEST_COMMON := $(wildcard tests/common/*.c)
TEST_SRC := $(filter-out tests/common/%,$(wildcard tests/*/test_*.c))
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
MPI_PROGS := $(if $(MPICC),$(patsubst harness/run/mpi/%.c,$(BUILD)/quintet-mpi-%,$(wildcard harness/run/mpi/*.c)))

# Rebuild everything when the flags change: build/flags.txt holds the last set used.
FLAGS_TEXT := $(CFLAGS) $(LIB_VIS) | $(CXXFLAGS) | $(NVCCFLAGS) | $(LDLIBS)
ifneq ($(FLAGS_TEXT),$(file < $(BUILD)/flags.txt))
$(shell mkdir -p $(BUILD))
$(file > $(BUILD)/flags.txt,$(FLAGS_TEXT))
endif

obj = $(patsubst %,$(BUILD)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC)) $(call obj,$(CU_SRC))
HARNESS_OBJ := $(call obj,$(HARNESS_SRC) $(HARNESS_CC) $(HARNESS_CU))
TESTING_OBJ := $(call obj,$(TESTING_SRC))
$(call obj,$(LIB_SRC)): CFLAGS += $(LIB_VIS)
$(call obj,impl/backends/nccl/nccl.c): CFLAGS += -I$(CUDA_HOME)/include
$(call obj,$(CU_SRC)): NVCCFLAGS += -Xcompiler $(LIB_VIS)

.PHONY: all lib quintet tests test bench check-asan fuzz mpi cuda
.SECONDARY: # keep intermediate objects (no trailing `rm` after the test summary)
all: lib quintet tests mpi cuda
lib: $(BUILD)/libquintet.a $(BUILD)/libquintet.so $(BUILD)/libqttesting.a
quintet: $(BUILD)/quintet
# Test helpers that are programs of their own (a real Google Benchmark binary for the JSON import test).
TEST_PROGS := $(BUILD)/tests/harness/gbench_peer
tests: $(TEST_BIN) $(TEST_PROGS)
mpi: $(MPI_PROGS)
# cuda: the standalone CUDA kernel drivers (validate every kernel version, then time it):
# build/cuda-attn-bench (tests/attention/cuda_attn_bench.cu over impl/attention/cuda/).
CUDA_PROGS := $(if $(HAVE_CUDA),$(BUILD)/cuda-attn-bench)
cuda: $(CUDA_PROGS)
$(BUILD)/cuda-attn-bench: tests/attention/cuda_attn_bench.cu $(wildcard impl/attention/cuda/attn_*.cu impl/attention/cuda/*.h) $(BUILD)/flags.txt
	@mkdir -p $(dir $@)
	$(call say,NVCC,$@)$(NVCC) $(NVCCFLAGS) -Iimpl/attention/cuda -o $@ tests/attention/cuda_attn_bench.cu $(wildcard impl/attention/cuda/attn_*.cu) -L$(CUDA_LIBDIR) -lcublas

$(BUILD)/obj/%.c.o: %.c $(BUILD)/flags.txt
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/obj/%.cc.o: %.cc $(BUILD)/flags.txt
	@mkdir -p $(dir $@)
	$(call say,CXX,$<)$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/obj/%.cu.o: %.cu $(BUILD)/flags.txt
	@mkdir -p $(dir $@)
	$(call say,NVCC,$<)$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@

# results/schema.sql as a C string literal, included by harness/store/store.c (the only copy of the schema).
$(BUILD)/gen/schema_sql.h: results/schema.sql
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@
$(call obj,harness/store/store.c): $(BUILD)/gen/schema_sql.h

$(BUILD)/libquintet.a: $(LIB_OBJ)
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^
$(BUILD)/libquintet.so: $(LIB_OBJ) mk/libquintet.map
	$(call say,LD,$@)$(CC) -shared -Wl,--version-script=mk/libquintet.map -o $@ $(LIB_OBJ) $(LDLIBS)
$(BUILD)/libqttesting.a: $(TESTING_OBJ)
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^
$(BUILD)/libqtharness.a: $(HARNESS_OBJ)
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^
$(BUILD)/quintet: $(call obj,harness/cli/main.c) $(BUILD)/libqtharness.a $(BUILD)/libqttesting.a $(BUILD)/libquintet.a
	$(call say,LD,$@)$(CC) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/%: tests/%.c $(call obj,$(TEST_COMMON)) $(BUILD)/libqtharness.a $(BUILD)/libqttesting.a $(BUILD)/libquintet.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS) -Itests/common -o $@ $^ -lcunit $(LDLIBS)
$(BUILD)/tests/harness/gbench_peer: tests/harness/peer/gbench_peer.cc
	@mkdir -p $(dir $@)
	$(call say,CXX,$<)$(CXX) -std=c++17 -O1 -Wall -Wextra -Werror $(DEP_INC) -o $@ $< $(DEP_LIB) -lbenchmark -lpthread
$(BUILD)/quintet-mpi-%: harness/run/mpi/%.c
	@mkdir -p $(dir $@)
	$(call say,MPICC,$<)OMPI_CC=$(CC) $(MPICC) $(CFLAGS) -o $@ $<

test: all
	@QT_BUILD=$(BUILD) QT_MPIRUN='$(QT_MPIRUN)' tests/run.sh $(TEST_BIN)

# With the mpi backend, dist_throughput runs on 2 ranks (a second run: its collectives need more than
# one rank; calibration is not repeated on ranks); without it every suite runs in one.
BENCH_SUITES := calibration attention_scaling lr_convergence sparsity fusion_accuracy
bench: all
	$(BUILD)/quintet run $(if $(HAVE_MPI_BACKEND),$(BENCH_SUITES)) --profile quick --db results/quintet.db
	$(if $(HAVE_MPI_BACKEND),$(BUILD)/quintet run dist_throughput --ranks 2 --profile quick --db results/quintet.db)
	$(if $(HAVE_MPI_BACKEND),@$(BUILD)/quintet show latest~1 --summary --db results/quintet.db)
	@$(BUILD)/quintet show --summary --db results/quintet.db

# LeakSanitizer: third-party libraries' process-lifetime allocations are suppressed (mk/lsan.supp);
# the slow unwinder gives their frames names (the libraries have no frame pointers).
check-asan:
	@LSAN_OPTIONS=suppressions=$(CURDIR)/mk/lsan.supp:fast_unwind_on_malloc=0:print_suppressions=0 \
	  $(MAKE) --no-print-directory QT_INNER=1 BUILD=build-asan OPT='-O1 -fno-omit-frame-pointer' \
	  SAN='-fsanitize=address,undefined -fno-sanitize-recover=undefined' test

FUZZ_SECONDS ?= 60
fuzz: $(BUILD)/gen/schema_sql.h
	@QT_DEPS_INC='$(INC) $(DEFS)' FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
