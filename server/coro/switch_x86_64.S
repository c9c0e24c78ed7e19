/* switch_x86_64.S: the coroutine register switch for x86-64 (System V):
 * callee-saved registers, the SSE and x87 control words, and the stack
 * pointer; no system call, no signal mask (unlike swapcontext). */
	.text
	.globl	coro_switch
	.hidden	coro_switch
	.type	coro_switch, @function
/* void coro_switch(void **save_sp, void *load_sp) */
coro_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	coro_switch, .-coro_switch

/* A new coroutine's first switch returns here (see coro_stack_frame):
 * the stack is 16-byte aligned, so the call below keeps the ABI's
 * alignment; a zero frame pointer ends backtraces. */
	.globl	coro_boot
	.hidden	coro_boot
	.type	coro_boot, @function
coro_boot:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	call	coro_entry
	ud2
	.cfi_endproc
	.size	coro_boot, .-coro_boot

	.section .note.GNU-stack,"",@progbits
