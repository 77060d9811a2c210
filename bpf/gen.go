package bpf

// The eBPF objects (egress_bpfel.o, egress_bpfeb.o) and their Go loaders are
// generated from egress.c and committed, so that building needs no clang.
// To regenerate them (needs clang, llvm-strip and the libbpf headers; on
// Debian: apt-get install clang llvm libbpf-dev):
//
//	go generate ./bpf
//
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" -type event -type lpm_key -type allow_entry egress egress.c
