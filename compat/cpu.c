/*
 * What the CPU can do that decides a choice of limpet's: whether it runs
 * AES and GCM's carry-less multiply in hardware (x86's AES-NI and PCLMUL,
 * ARMv8's AES and PMULL), in which case AES-GCM is both constant-time
 * and cheaper per byte than ChaCha20-Poly1305.  Asked of the compiler's
 * runtime on x86 (HAVE_CPU_SUPPORTS) and of the kernel's hardware
 * capabilities on Linux/arm64 (HAVE_GETAUXVAL); elsewhere the answer is
 * "no", which only leaves ssh's own cipher order alone.
 */
#if defined(HAVE_GETAUXVAL) && defined(__aarch64__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#endif

#include "compat.h"

/* 1 if AES-GCM runs in hardware on this CPU, else 0. */
int
compat_cpu_aes_gcm(void)
{
#if defined(HAVE_CPU_SUPPORTS) && (defined(__x86_64__) || defined(__i386__))
	__builtin_cpu_init();
	return __builtin_cpu_supports("aes") &&
	    __builtin_cpu_supports("pclmul");
#elif defined(HAVE_GETAUXVAL) && defined(__aarch64__) && \
    defined(HWCAP_AES) && defined(HWCAP_PMULL)
	unsigned long	hw = getauxval(AT_HWCAP);

	return (hw & HWCAP_AES) != 0 && (hw & HWCAP_PMULL) != 0;
#else
	return 0;
#endif
}
