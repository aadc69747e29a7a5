/* lvit ptycho simulate | reconstruct: flags into option structs, then src/ptycho/job.c. */
#include <stdio.h>
#include <string.h>
#include "cli/common.h"
#include "core/check.h"
#include "ptycho/job.h"


static int simulate(int argc, char **argv) {
    PtySimOptions o;
    pty_sim_defaults(&o);
    const char *out = NULL;
    float photons = (float)o.photons, radius = (float)o.radius, defocus = (float)o.defocus;
    int64_t seed = (int64_t)o.seed;
    int no_noise = 0;
    ArgSpec specs[] = {
        {"output", ARG_STR, &out, "netCDF file to write (also -o; required)", NULL, 0, 0, 0},
        {"object", ARG_INT, &o.side, "object side in pixels (square; at most 8192, the reconstruction's limit)", NULL, 8, 8192, 0},
        {"probe", ARG_INT, &o.n, "probe window and frame side in pixels", NULL, 4, 4096, 0},
        {"positions", ARG_INT, &o.N, "scan positions (a Fermat spiral filling the object)", NULL, 1, 1 << 20, 0},
        {"photons", ARG_FLOAT, &photons, "counts per frame for a unit object (the probe's power)", NULL, 1e-3, 1e15, 0},
        {"pupil-radius", ARG_FLOAT, &radius, "probe: pupil radius in far-field pixels", NULL, 0.5, 1e6, 0},
        {"defocus", ARG_FLOAT, &defocus, "probe: quadratic phase at the pupil edge, radians", NULL, -1e4, 1e4, 0},
        {"subpixel", ARG_FLAG, &o.subpixel, "positions keep their fractional part (the probe Fourier-shifted by it); default: whole pixels", NULL, 0, 0, 0},
        {"no-noise", ARG_FLAG, &no_noise, "exact intensities instead of Poisson counts", NULL, 0, 0, 0},
        {"seed", ARG_I64, &seed, "noise seed", NULL, 0, 9e18, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 3, "ptycho simulate", "-o SCAN.nc [--object 192 --probe 64 --positions 160 ...]", NULL, 0);
    if (!out) DIE_USER("lvit ptycho simulate: -o SCAN.nc is required");
    o.photons = photons, o.radius = radius, o.defocus = defocus, o.noise = !no_noise, o.seed = (uint64_t)seed;
    return pty_simulate_job(&o, out);
}

static int reconstruct(int argc, char **argv, int frc) {
    PtyJobOptions o;
    pty_job_defaults(&o);
    float radius = 0, defocus = 0;
    int fixed_probe = 0;
    const char *tiles = NULL;
    ArgSpec specs[] = {
        {"data", ARG_STR, &o.data, "scan: netCDF (frames or diffraction [N,n,n] in FFT order, positions or scan_px [N,2]) or CXI/HDF5 far-field (required)", NULL, 0, 0, 0},
        {"output", ARG_STR, &o.out, "netCDF file for the object and probe (also -o; required)", NULL, 0, 0, 0},
        {"iters", ARG_INT, &o.recon.iters, "iterations", NULL, 1, 1 << 24, 0},
        {"probe-init", ARG_CHOICE, &o.probe_init, "initial probe: file (probe_real/imag of --data), mean (the mean pattern's amplitude), pupil (--pupil-radius, --defocus)", PTY_PROBE_CHOICES, 0, 0, 0},
        {"pupil-radius", ARG_FLOAT, &radius, "pupil guess: radius in far-field pixels (0 = a quarter of the frame)", NULL, 0, 1e6, 0},
        {"defocus", ARG_FLOAT, &defocus, "pupil guess: quadratic phase at the pupil edge, radians", NULL, -1e4, 1e4, 0},
        {"fixed-probe", ARG_FLAG, &fixed_probe, "do not update the probe", NULL, 0, 0, 0},
        {"probe-start", ARG_INT, &o.recon.probe_start, "first iteration that updates the probe", NULL, 0, 1 << 24, 0},
        {"alpha", ARG_FLOAT, &o.recon.alpha, "object step size", NULL, 0, 2, 0},
        {"beta", ARG_FLOAT, &o.recon.beta, "probe step size", NULL, 0, 2, 0},
        {"eps", ARG_FLOAT, &o.recon.eps, "smoothing constant inside the cost's square roots, counts", NULL, 0, 1e6, 0},
        {"subpixel", ARG_FLAG, &o.recon.subpixel, "sub-pixel positions: the probe shifted by each position's fractional part with a Fourier phase ramp (slower); default: positions rounded to whole pixels", NULL, 0, 0, 0},
        {"double", ARG_FLAG, &o.recon.use_double, "compute in double precision (reference; slower)", NULL, 0, 0, 0},
        {"pad", ARG_INT, &o.pad, "object margin around the scanned area, pixels (data without an object grid)", NULL, 0, 1 << 16, 0},
        {"cost", ARG_STR, &o.cost_path, "JSONL cost log (default: OUTPUT with .jsonl for .nc)", NULL, 0, 0, 0},
        {"plot", ARG_STR, &o.plot_dir, "folder for cost.png, object.png and probe.png (amplitude and phase)", NULL, 0, 0, 0},
        {"quiet", ARG_FLAG, &o.quiet, "no line per iteration", NULL, 0, 0, 0},
        {"poisson-from", ARG_INT, &o.recon.poisson_start, "the Poisson cost from this iteration on, the amplitude cost before it (-1 = never; from a cold start, 0, it diverges: warm up first, e.g. 20)", NULL, -1, 1 << 24, 0},
        {"tiles", ARG_STR, &tiles, "under mpirun: RxC object tiles, one per process (default: a near-square grid of the process count)", NULL, 0, 0, 0},
        {"cell", ARG_INT, &o.recon.cell, "cell side in pixels of the fixed summation order (0 = the probe side); runs with the same --cell give the same bits at any --tiles", NULL, 0, 1 << 16, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 3, frc ? "ptycho frc" : "ptycho reconstruct",
               frc ? "--data SCAN.nc --iters N -o FRC.jsonl [reconstruct's options]   (even and odd frames reconstructed apart, then compared)"
                   : "--data SCAN.nc --iters N -o OUT.nc [--probe-init file|mean|pupil]", NULL, 0);
    if (!o.data) DIE_USER("lvit ptycho %s: --data SCAN.nc is required", frc ? "frc" : "reconstruct");
    if (!o.out) DIE_USER("lvit ptycho %s: -o %s is required", frc ? "frc" : "reconstruct", frc ? "FRC.jsonl" : "OUT.nc");
    o.radius = radius, o.defocus = defocus;
    o.recon.probe_update = !fixed_probe;
    if (tiles) {
        char x;
        int used = 0;
        if (sscanf(tiles, "%d%c%d%n", &o.tiles_r, &x, &o.tiles_c, &used) != 3 || (x != 'x' && x != 'X') ||
            tiles[used] || o.tiles_r < 1 || o.tiles_c < 1)
            DIE_USER("--tiles '%s': expected ROWSxCOLUMNS of tiles, e.g. --tiles 2x2", tiles);
        if (frc) DIE_USER("lvit ptycho frc: --tiles is for reconstruct only (frc runs in one process)");
    }
    /* frc writes only its ring curve: a cost log or plots asked of it would silently not appear */
    if (frc && (o.cost_path || o.plot_dir))
        DIE_USER("lvit ptycho frc: %s is for reconstruct only (frc writes the FRC curve to -o)", o.cost_path ? "--cost" : "--plot");
    return frc ? pty_frc_job(&o) : pty_reconstruct_job(&o);
}

int cmd_ptycho(int argc, char **argv) {
    const char *sub = argc > 2 ? argv[2] : "";
    if (!strcmp(sub, "simulate")) return simulate(argc, argv);
    if (!strcmp(sub, "reconstruct")) return reconstruct(argc, argv, 0);
    if (!strcmp(sub, "frc")) return reconstruct(argc, argv, 1);
    if (!strcmp(sub, "inspect")) {
        if (argc != 4 || argv[3][0] == '-') DIE_USER("usage: lvit ptycho inspect SCAN.cxi|SCAN.nc");
        return pty_inspect_job(argv[3]);
    }
    if (!strcmp(sub, "convert")) {
        if (argc != 6 || argv[3][0] == '-' || (strcmp(argv[4], "-o") && strcmp(argv[4], "--output")))
            DIE_USER("usage: lvit ptycho convert SCAN.cxi -o SCAN.nc");
        return pty_convert_job(argv[3], argv[5]);
    }
    FILE *f = strcmp(sub, "--help") && strcmp(sub, "-h") ? stderr : stdout;
    if (f == stderr) fprintf(f, *sub ? "lvit ptycho: unknown ptycho command '%s'\n" : "lvit ptycho: a command is needed%s\n", sub);
    fprintf(f, "usage: lvit ptycho simulate -o SCAN.nc [options]      a simulated far-field scan with its truth\n"
               "       lvit ptycho reconstruct --data SCAN.nc --iters N -o OUT.nc [options]\n"
               "       lvit ptycho inspect SCAN.cxi|SCAN.nc   frames, geometry, positions, mask; far field or not\n"
               "       lvit ptycho convert SCAN.cxi -o SCAN.nc   a far-field CXI scan as netCDF\n"
               "       lvit ptycho frc --data SCAN.nc --iters N -o FRC.jsonl [options]   two half-scans' Fourier ring correlation\n"
               "(lvit ptycho SUBCOMMAND --help for the options)\n");
    return f == stdout ? 0 : LVIT_EXIT_USAGE;
}
