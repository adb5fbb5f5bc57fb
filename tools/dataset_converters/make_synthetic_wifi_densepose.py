# Copyright (c) mmdensekd contributors. All rights reserved.
"""Generate the synthetic paired camera + WiFi DensePose dataset.

One simulated 3D world seen by both sensors (``mmdensekd.simulation``):
articulated primitive people in rooms, a pinhole z-buffer renderer with
exact DensePose labels, and a geometric multipath WiFi channel::

    python tools/dataset_converters/make_synthetic_wifi_densepose.py \\
        --out-dir data/synthetic_wifi --num-train 600 --num-val 100 \\
        --num-test-layout 100 --csi-layout person-in-wifi --seed 0 --workers 2

Writes ``images/``, ``csi/`` and ``annotations/densepose_{train,val,heldout}.json``
(load with ``PairedWiFiDensePoseDataset``, ``data_root=OUT_DIR``,
``data_prefix=dict(img='', csi='')``), ``eval_data/`` (geodesic files of the
synthetic body for ``DensePoseMetric(eval_data_dir=OUT_DIR/eval_data)``) and
``meta.json`` (options + content hash). Same options, same bytes.
"""
import argparse
import time

from mmdensekd.simulation import generate_dataset
from mmdensekd.simulation.writer import SENSING
from mmdensekd.structures.csi_layout import CSI_LAYOUTS


def _snr(value: str):
    return None if value.lower() == 'none' else float(value)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out-dir', required=True, help='output directory')
    parser.add_argument('--num-train', type=int, default=600, help='training frames')
    parser.add_argument('--num-val', type=int, default=100, help='validation frames')
    parser.add_argument('--num-test-layout', type=int, default=100,
                        help='frames of the held-out room layout')
    parser.add_argument('--img-size', type=int, nargs=2, default=(320, 240),
                        metavar=('W', 'H'), help='image size')
    parser.add_argument('--max-people', type=int, default=3, help='most people per frame')
    parser.add_argument('--min-people', type=int, default=1, help='fewest people per frame')
    parser.add_argument('--layouts', type=int, default=3,
                        help='room layouts; the last one is held out')
    parser.add_argument('--csi-layout', default='person-in-wifi', choices=sorted(CSI_LAYOUTS),
                        help='person-in-wifi: 150x3x3 at 2.4 GHz; mmfi: 3x114x10 at 5 GHz '
                        '(see mmdensekd/structures/csi_layout.py); --sensing sets it')
    parser.add_argument('--sensing', default=None, choices=sorted(SENSING),
                        help='the sensing of a published system (CSI layout and temporal '
                        'windows, see mmdensekd/simulation/writer.py SENSING); recorded in '
                        'meta.json. person-in-wifi: one 3x3 link (default); mmfi: 1x3 5 GHz '
                        'HT40; person-in-wifi-3d: three receivers of 3 antennas; *-4w: 4 '
                        'consecutive frame windows (needs --sequence-frames)')
    parser.add_argument('--sequence-frames', type=int, default=0,
                        help='sequence mode: one person performs an activity (walking, '
                        'raising arms, bending, sitting down) over this many frames; splits '
                        'share no sequence (0: independent frames)')
    parser.add_argument('--windows', type=int, default=1,
                        help='consecutive frame windows of CSI per frame (sequence mode)')
    parser.add_argument('--stations', type=int, default=0,
                        help='fixed standing spots per room, as in recorded activity data '
                        '(0: people stand anywhere in the activity area)')
    parser.add_argument('--station-jitter', type=float, default=0.05,
                        help='std (m) of a person\'s offset from its standing spot')
    parser.add_argument('--heading-jitter', type=float, default=None, metavar='DEG',
                        help='people face the camera, turned by a normal angle of this '
                        'std (degrees), as subjects of recorded activity data face the '
                        'sensors (omitted: any heading)')
    parser.add_argument('--snr-db', type=_snr, default=25.0,
                        help="CSI thermal-noise SNR ('none': noise-free CSI)")
    parser.add_argument('--seed', type=int, default=0, help='seed (same flags, same bytes)')
    parser.add_argument('--workers', type=int, default=2, help='processes')
    parser.add_argument('--channel', nargs='+', default=None, metavar='KEY=VALUE',
                        help='overrides of mmdensekd.simulation.ChannelConfig, e.g. '
                        'body_gain=3 motion_step=0.02')
    return parser.parse_args(argv)


def _channel(items):
    if not items:
        return None
    out = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep:
            raise SystemExit(f'--channel expects KEY=VALUE, got {item!r}')
        out[key] = float(value)
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.time()
    meta = generate_dataset(
        args.out_dir, num_train=args.num_train, num_val=args.num_val,
        num_test_layout=args.num_test_layout, img_size=tuple(args.img_size),
        max_people=args.max_people, min_people=args.min_people, layouts=args.layouts,
        csi_layout=args.csi_layout, snr_db=args.snr_db, seed=args.seed, workers=args.workers,
        channel=_channel(args.channel), stations=args.stations,
        station_jitter=args.station_jitter, heading_jitter_deg=args.heading_jitter,
        sensing=args.sensing, sequence_frames=args.sequence_frames, windows=args.windows)
    counts = ', '.join(f"{k}: {v['images']} images / {v['instances']} persons"
                       for k, v in meta['splits'].items())
    print(f'wrote {args.out_dir} in {time.time() - start:.1f}s ({counts}); '
          f"content hash {meta['content_hash'][:16]}")
    return meta


if __name__ == '__main__':
    main()
