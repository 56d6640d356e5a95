//go:build linux

package netns

// sysSetns is setns(2)'s number; package syscall names it on other
// architectures only.
const sysSetns = 308
