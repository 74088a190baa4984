# l7lab - build, test, demo and benchmark the toolkit.
#
#   make            build every tool into bin/ (objects in build/rel/)
#   make SAN=1      the same with AddressSanitizer + UBSan, into build/san/bin/
#   make test       build both and the fuzz harnesses, run the unit tests and
#                   the bats suite (against the sanitizer build; TEST_BUILD=rel
#                   runs it on bin/ instead)
#   make demo       the one-command classroom demo
#   make bench      benchmarks against the tools people pick instead (not CI)
#   make waf-eval   the WAF's rule sets measured on tests/waf's corpus
#   make deps       install what is missing (Debian 12 packages)
#   make install    the tools, man pages and bash completion under PREFIX
#                   (/usr/local; DESTDIR for staging), and the bats library
#                   (bats_load_library l7lab) into BATSLIBDIR; make uninstall
#   make fuzz       build the libFuzzer harnesses (tests/fuzz) into build/fuzz/
#                   and run each for FUZZ_SECONDS (20); FUZZ=NAME runs one;
#                   fails on any crash, sanitizer report or disagreement
#   make soak       SOAK_SECONDS (600) of loadgen through the ASan proxy to
#                   faulty backends; prints its figures (not in CI)
#
# make, demo, test and bench first install the Debian packages they need
# (bin/install-deps), then build in a second make: this one may have looked
# for llhttp's sources before the packages put them there.
#
# Each tool is the .c files of its folder; TOOL/main.c holds main(), so unit
# tests (tests/unit/test_TOOL_*.c) can link the rest of the tool.  llhttp's C
# sources come from Debian's node-llhttp and are compiled into build/.  The
# proxy's WAF (proxy/waf.c) loads libmodsecurity3 (libmodsecurity-dev) and
# reads its rule sets from proxy/waf/; bin/wafeval (tests/tools/wafeval.c)
# measures them on the labelled corpus in tests/waf/.

VERSION      := 0.1
LLHTTP_DIR   ?= /usr/share/llhttp
LLHTTP_INC   ?= /usr/share/include/llhttp
TOOLS        := mockserver proxy loadgen tracer
INSTALL_DEPS ?= bin/install-deps

PREFIX       ?= /usr/local
BATSLIBDIR   ?= /usr/lib/bats
BINDIR_INST  := $(PREFIX)/bin
MANDIR       := $(PREFIX)/share/man
COMPDIR      := $(PREFIX)/share/bash-completion/completions

CC           ?= cc
WARN         := -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion
CSTD         := -std=c17 -D_GNU_SOURCE
CPPFLAGS     += -Ilib -I$(LLHTTP_INC) -MMD -MP
LDLIBS       += -lm

ifeq ($(SAN),1)
  BUILD      := build/san
  BINDIR     := build/san/bin
  SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  # -O1, as ASan's authors advise: exact stack traces, half the build time.
  CFLAGS     ?= -O1 -g
else
  BUILD      := build/rel
  BINDIR     := bin
  SANFLAGS   :=
endif
CFLAGS       ?= -O2 -g

ALL_CFLAGS   = $(CSTD) $(CFLAGS) $(SANFLAGS) $(WARN)
LIB_OBJ      := $(patsubst %.c,$(BUILD)/%.o,$(wildcard lib/*.c))
LLHTTP_OBJ   := $(patsubst %,$(BUILD)/llhttp/%.o,llhttp api http)
BUILT_TOOLS  := $(foreach t,$(TOOLS),$(if $(wildcard $(t)/main.c),$(t)))
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BIN     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# Small peers the bats tests need and no package has (tests/tools/*.c).
# (wafeval, a tool of its own, is built into bin/ below.)
TEST_TOOLS   := $(filter-out %/wafeval,$(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c)))
# Man pages with the version in their footer (build/man/manN/NAME.N).
MAN_SRC      := $(wildcard $(addsuffix /*.1,$(TOOLS)) $(addsuffix /*.5,$(TOOLS)))
MAN_OUT      := $(foreach m,$(MAN_SRC),build/man/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))

tool_obj     = $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(EXTRA_$(1))
LIBS_tracer  := -lpcap -ljansson
# The dashboard's files (proxy/admin/*.css, *.js) are built into the proxy
# as C strings, which proxy/admin/embed.sh writes into build/.
ADMIN_FILES  := $(wildcard proxy/admin/*.css proxy/admin/*.js)
EXTRA_proxy  := $(BUILD)/gen/admin_assets.o
# waf.o needs libmodsecurity's headers and loads the library itself when a
# rule set is opened (dlopen): nothing to link.
$(BUILD)/proxy/waf.o: CPPFLAGS += $(shell pkg-config --cflags modsecurity 2>/dev/null) \
    -DWAF_RULES_DIR='"$(CURDIR)/proxy/waf"'

# The second make uses every core unless make was given -j.
NPROC        := $(shell nproc 2>/dev/null || echo 2)
SUBMAKE       = $(MAKE) --no-print-directory $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))

.PHONY: all tools unit testtools man asan test demo bench waf-eval deps install install-bats uninstall clean
all:
	@$(INSTALL_DEPS) --build
	+@$(SUBMAKE) tools unit man

tools: $(addprefix $(BINDIR)/,$(BUILT_TOOLS)) $(BINDIR)/wafeval
unit: $(UNIT_BIN) $(TEST_TOOLS)
testtools: $(TEST_TOOLS)
man: $(MAN_OUT)

define tool_rule
$(BINDIR)/$(1): $(call tool_obj,$(1)) $(LIB_OBJ) $(LLHTTP_OBJ)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(SANFLAGS) -o $$@ $$^ $$(LDFLAGS) $$(LDLIBS) $$(LIBS_$(1))
endef
$(foreach t,$(BUILT_TOOLS),$(eval $(call tool_rule,$(t))))

$(BINDIR)/wafeval: $(BUILD)/tests/tools/wafeval.o $(BUILD)/proxy/waf.o $(LIB_OBJ) $(LLHTTP_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# A unit test links lib/ and, for test_TOOL_*.c, that tool without its main.c.
unit_tool    = $(firstword $(filter $(TOOLS),$(subst _, ,$(patsubst test_%,%,$(1)))))
define unit_rule
$(BUILD)/tests/$(1): $(BUILD)/tests/unit/$(1).o $(LIB_OBJ) $(LLHTTP_OBJ) \
    $(if $(call unit_tool,$(1)),$(filter-out %/main.o,$(call tool_obj,$(call unit_tool,$(1)))))
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(SANFLAGS) -o $$@ $$^ $$(LDFLAGS) $$(LDLIBS) \
	    $(if $(call unit_tool,$(1)),$$(LIBS_$(call unit_tool,$(1))))
endef
$(foreach u,$(UNIT_SRC),$(eval $(call unit_rule,$(basename $(notdir $(u))))))

$(TEST_TOOLS): $(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(LIB_OBJ) $(LLHTTP_OBJ)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/gen/admin_assets.c: proxy/admin/embed.sh $(ADMIN_FILES)
	@mkdir -p $(@D)
	sh proxy/admin/embed.sh $(ADMIN_FILES) >$@.tmp && mv $@.tmp $@

$(BUILD)/gen/admin_assets.o: $(BUILD)/gen/admin_assets.c
	$(CC) $(CPPFLAGS) -Iproxy $(ALL_CFLAGS) -c -o $@ $<

# The one place the version is written; --version and the man pages read it.
$(BUILD)/lib/cli.o build/fuzz/obj/lib/cli.o: CPPFLAGS += -DL7LAB_VERSION='"$(VERSION)"'
$(BUILD)/lib/cli.o: Makefile

# llhttp is generated code: build it with its own (quieter) warnings.
$(BUILD)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) -I$(LLHTTP_INC) $(CSTD) $(CFLAGS) $(SANFLAGS) -w -c -o $@ $<
$(LLHTTP_DIR)/%.c:
	@echo "make: $@ is missing: llhttp comes from Debian's node-llhttp (make deps)" >&2; exit 2

# .TH NAME SECTION DATE l7lab ... gets "l7lab VERSION" as its footer.
define man_rule
build/man/man$(subst .,,$(suffix $(1)))/$(notdir $(1)): $(1) Makefile
	@mkdir -p $$(@D)
	sed '1,/^\.TH /s/^\(\.TH [^ ]* [^ ]* [^ ]*\) l7lab /\1 "l7lab $(VERSION)" /' $$< >$$@
endef
$(foreach m,$(MAN_SRC),$(eval $(call man_rule,$(m))))

asan:
	$(MAKE) SAN=1 tools unit

waf-eval:
	@$(INSTALL_DEPS) --build
	+@$(SUBMAKE) tools
	tests/waf/steps

deps:
	$(INSTALL_DEPS)

TEST_BUILD   ?= san
# The fuzz harnesses (tests/fuzz.bats) are built here, where every core
# builds, rather than inside the test run.
test:
	@$(INSTALL_DEPS) --test
	+@$(SUBMAKE) tools unit man
	+@$(SUBMAKE) SAN=1 tools unit fuzz-build
	tests/run --build $(TEST_BUILD)

demo:
	@$(INSTALL_DEPS) --demo
	+@$(SUBMAKE) tools
	labs/demo.sh

bench:
	@$(INSTALL_DEPS) --bench
	+@$(SUBMAKE) tools testtools
	tests/bench/run

install: tools man install-bats
	install -d $(DESTDIR)$(BINDIR_INST) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(COMPDIR)
	install -m 755 $(addprefix bin/,$(BUILT_TOOLS)) $(DESTDIR)$(BINDIR_INST)/
	install -m 644 $(filter %.1,$(MAN_OUT)) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(filter %.5,$(MAN_OUT)) $(DESTDIR)$(MANDIR)/man5/
	for t in $(BUILT_TOOLS); do install -m 644 bin/completion.bash $(DESTDIR)$(COMPDIR)/$$t || exit 1; done

# The bats library where bats-core's bats_load_library finds it (Debian's
# bats-support and bats-assert live there too); it finds the tools in
# $(PREFIX)/bin.  In place, tests load tests/l7lab.bash directly.
install-bats:
	install -d $(DESTDIR)$(BATSLIBDIR)/l7lab
	sed 's|^L7_INSTALLED_BIN=$$|L7_INSTALLED_BIN=$(PREFIX)/bin|' tests/l7lab.bash >$(DESTDIR)$(BATSLIBDIR)/l7lab/load.bash

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR_INST)/,$(BUILT_TOOLS)) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(filter %.1,$(MAN_OUT)))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(filter %.5,$(MAN_OUT)))) \
	      $(addprefix $(DESTDIR)$(COMPDIR)/,$(BUILT_TOOLS)) \
	      $(DESTDIR)$(BATSLIBDIR)/l7lab/load.bash
	-rmdir $(DESTDIR)$(BATSLIBDIR)/l7lab 2>/dev/null

clean:
	rm -rf build $(addprefix bin/,$(TOOLS) wafeval) labs/student/proxy

# ---- fuzzing and the fault soak (issue 15; README "Fuzzing and the soak") --
# Harnesses are tests/fuzz/fuzz_NAME.c, built with clang's libFuzzer, ASan and
# UBSan into build/fuzz/NAME; fuzz_TOOL_*.c links that tool without main.c,
# every harness links lib/, llhttp and the helpers tests/fuzz/*.c.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(CSTD) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_OBJ     := build/fuzz/obj
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(patsubst tests/fuzz/fuzz_%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_HELPERS := $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(filter-out tests/fuzz/fuzz_%,$(wildcard tests/fuzz/*.c)))
FUZZ_BASE    := $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(wildcard lib/*.c)) \
                $(patsubst %,$(FUZZ_OBJ)/llhttp/%.o,llhttp api http)
fuzz_tool    = $(firstword $(filter $(TOOLS),$(subst _, ,$(1))))
fuzz_tool_obj = $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(filter-out %/main.c,$(wildcard $(1)/*.c))) \
                $(patsubst $(BUILD)/%,$(FUZZ_OBJ)/%,$(EXTRA_$(1)))

.PHONY: fuzz fuzz-build soak
fuzz-build: $(FUZZ_BIN)

# Runs every harness (FUZZ=NAME for one) for FUZZ_SECONDS; fails on a finding.
fuzz:
	@$(INSTALL_DEPS) --test
	+@$(SUBMAKE) fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run $(FUZZ)

# The helpers (splits, the strict reader, ...) go in an archive: each
# harness links only those it uses.
define fuzz_rule
build/fuzz/$(1): $(FUZZ_OBJ)/tests/fuzz/fuzz_$(1).o $(FUZZ_BASE) \
    $(if $(call fuzz_tool,$(1)),$(call fuzz_tool_obj,$(call fuzz_tool,$(1)))) $(FUZZ_OBJ)/helpers.a
	$$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ $$(LDLIBS) \
	    $(if $(call fuzz_tool,$(1)),$$(LIBS_$(call fuzz_tool,$(1))))
endef
$(foreach f,$(FUZZ_BIN),$(eval $(call fuzz_rule,$(notdir $(f)))))

$(FUZZ_OBJ)/helpers.a: $(FUZZ_HELPERS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_OBJ)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $(WARN) -c -o $@ $<

# A tool's generated sources (EXTRA_TOOL: the proxy's dashboard files) come
# from the normal build's gen/.
$(FUZZ_OBJ)/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) -Iproxy $(FUZZ_CFLAGS) $(WARN) -c -o $@ $<

$(FUZZ_OBJ)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) -I$(LLHTTP_INC) $(FUZZ_CFLAGS) -w -c -o $@ $<

# The fault soak: SOAK_SECONDS of loadgen through the ASan proxy (not in CI).
SOAK_SECONDS ?= 600
soak:
	@$(INSTALL_DEPS) --test
	+@$(SUBMAKE) tools
	+@$(SUBMAKE) SAN=1 tools
	SOAK_SECONDS=$(SOAK_SECONDS) tests/soak/run

-include $(shell find build -name '*.d' 2>/dev/null)
