//go:build !linux

package main

// attack knows no mode: the attack modes need Linux.
func attack(string, []string) bool { return false }
