/* switch_aarch64.S: the coroutine register switch for AArch64 (AAPCS64):
 * x19-x30, d8-d15 and sp; no system call, no signal mask. */
	.text
	.globl	coro_switch
	.hidden	coro_switch
	.type	coro_switch, %function
/* void coro_switch(void **save_sp, void *load_sp) */
coro_switch:
	sub	sp, sp, #160
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mov	x2, sp
	str	x2, [x0]
	mov	sp, x1
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #160
	ret
	.size	coro_switch, .-coro_switch

/* A new coroutine's first switch returns here with x29 zero (the end of
 * backtraces) and sp 16-byte aligned. */
	.globl	coro_boot
	.hidden	coro_boot
	.type	coro_boot, %function
coro_boot:
	bl	coro_entry
	brk	#0
	.size	coro_boot, .-coro_boot

	.section .note.GNU-stack,"",%progbits
