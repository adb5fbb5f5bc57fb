# Copyright (c) mmdensekd contributors. All rights reserved.
"""Generate a paired camera + WiFi DensePose dataset on disk.

Layout of ``out_dir`` (all paths in the json are relative to it, so configs
use ``data_root=out_dir`` and ``data_prefix=dict(img='', csi='')``)::

    images/{train,val,heldout}/000000.jpg
    csi/{train,val,heldout}/000000.mat          CSIamp, CSIphase (float32)
    annotations/densepose_{train,val,heldout}.json
    eval_data/{SMPL_subdiv.mat, SMPL_SUBDIV_TRANSFORM.mat, Pdist_matrix.pkl}
    meta.json                                   options, counts, content hash, CSI
                                                statistics of the training split

Layouts ``0 .. layouts - 2`` are the training rooms (train and val frames
are drawn from them, split by frame; in sequence mode, ``sequence_frames >
0``, split by sequence: each split draws its own sequences); layout
``layouts - 1`` is held out (``heldout`` split). With ``layouts == 1`` there
is no held-out split. ``sensing`` picks the CSI of a published system
(:data:`SENSING`).
Every frame is seeded by ``(seed, split, index)``, so the bytes do not
depend on ``workers``.

Loading (``meta.json`` holds the CSI shape and the sanitiser arguments)::

    dataset = dict(type='PairedWiFiDensePoseDataset', data_root=out_dir,
                   ann_file='annotations/densepose_train.json',
                   data_prefix=dict(img='', csi=''), pipeline=[
                       dict(type='LoadImageFromFileWithId'), ...,
                       dict(type='LoadCSIFromFile', expected_shape=(150, 3, 3)),
                       dict(type='CSIPhaseSanitize', view_shape=(5, 30, 3, 3),
                            subcarrier_axis=1, packet_axis=0),
                       dict(type='PackCSI'), ...])
    # MM-Fi layout: expected_shape=(3, 114, 10), CSIPhaseSanitize() defaults
    metric = dict(type='DensePoseMetric', eval_data_dir=out_dir + '/eval_data', ...)
"""
import hashlib
import json
import multiprocessing as mp
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmdensekd.datasets.coco_keypoints import COCO_SKELETON
from mmdensekd.structures.csi_layout import CSI_LAYOUTS

from .annotations import annotate_frame
from .appearance import render_frame, sample_light
from .body import COCO_JOINTS
from .eval_data import savemat_bytes, write_eval_data
from .scene import FrameScene, build_people, layout_stations, make_layout, sample_frame
from .sequences import SequenceSpec, sample_sequence, sequence_people, window_packets
from .wifi_channel import ChannelConfig, simulate_csi

SPLITS = ('train', 'val', 'heldout')
_SPLIT_CODE = {'train': 11, 'val': 23, 'heldout': 37}
#: Bump when the generated content changes for the same options.
GENERATOR_VERSION = 2
#: Sensing of published systems (``generate_dataset(sensing=...)``): the CSI
#: layout (:data:`CSI_LAYOUTS`, whose comments name the source) and the
#: number of consecutive frame windows per sample (temporal context, sequence
#: mode only).
SENSING: Dict[str, dict] = {
    # DensePose From WiFi / Person-in-WiFi: one 3x3 link, 2.4 GHz, 30 subcarriers, 5 packets
    'person-in-wifi': dict(csi_layout='person-in-wifi', windows=1),
    # MM-Fi: 1x3 antennas, 5 GHz HT40, 114 subcarriers, 10 packets
    'mmfi': dict(csi_layout='mmfi', windows=1),
    # Person-in-WiFi 3D: one transmitter, three receivers of three antennas around the area
    'person-in-wifi-3d': dict(csi_layout='person-in-wifi-3d', windows=1),
    # the default link with 4 consecutive frame windows (temporal context)
    'person-in-wifi-4w': dict(csi_layout='person-in-wifi-4w', windows=4),
    # three receivers and 4 consecutive frame windows
    'person-in-wifi-3d-4w': dict(csi_layout='person-in-wifi-3d-4w', windows=4),
}


def frame_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random source of frame ``index`` of ``split``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), _SPLIT_CODE[split],
                                                         int(index)]))


def sequence_rng(seed: int, split: str, sequence: int, stream: int) -> np.random.Generator:
    """Random source ``stream`` of sequence ``sequence`` of ``split``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), _SPLIT_CODE[split],
                                                         int(sequence), 977, int(stream)]))


_SPEC_CACHE: Dict[tuple, SequenceSpec] = {}


def frame_sequence(seed: int, split: str, sequence: int, layouts: int,
                   img_size: Tuple[int, int], sequence_frames: int, stations: int,
                   station_jitter: float, heading_jitter: Optional[float]) -> SequenceSpec:
    """The activity of sequence ``sequence`` of ``split`` (cached per process)."""
    key = (seed, split, sequence, layouts, tuple(img_size), sequence_frames, stations,
           station_jitter, heading_jitter)
    if key not in _SPEC_CACHE:
        if len(_SPEC_CACHE) > 256:
            _SPEC_CACHE.clear()
        layout = make_layout(seed, frame_layout(split, sequence, layouts))
        spots = layout_stations(layout, stations) if stations > 0 else None
        _SPEC_CACHE[key] = sample_sequence(layout, sequence_rng(seed, split, sequence, 0),
                                           sequence_frames, img_size[0], img_size[1],
                                           stations=spots, station_jitter=station_jitter,
                                           heading_jitter=heading_jitter)
    return _SPEC_CACHE[key]


def window_csi(spec: SequenceSpec, layout, seed: int, split: str, sequence: int, t: int,
               csi_layout: str, windows: int, snr_db: Optional[float],
               channel: Optional[ChannelConfig]) -> Dict[str, np.ndarray]:
    """Measured CSI of frame ``t`` of a sequence: the packets of ``windows``
    consecutive frame windows (frames ``t - windows + 1 .. t``), oldest first,
    stacked along the packet axis. Window ``k`` has its own random source
    (seeded by its frame time), so it equals the last window of frame
    ``t - windows + 1 + k``; times before the sequence see its first pose."""
    full = CSI_LAYOUTS[csi_layout]
    if not 1 <= windows <= 1000:
        raise ValueError(f'windows must be 1 to 1000, got {windows}')
    if full.num_packets % windows:
        raise ValueError(f'CSI layout {csi_layout!r} has {full.num_packets} packets, not a '
                         f'multiple of {windows} windows')
    per = full.with_packets(full.num_packets // windows)
    scene = FrameScene(layout, [], np.zeros((0, 17, 3)), build_people([])[1], [])
    parts = []
    for k in range(windows):
        tk = t - windows + 1 + k
        rng = sequence_rng(seed, split, sequence, 1000 + tk)  # the frame's, any windows
        parts.append(simulate_csi(scene, per, rng, snr_db=snr_db, cfg=channel,
                                  packets=window_packets(spec, tk, per.num_packets)))
    axis = -4  # (.., Q, K, T, R)
    return {key: np.concatenate([p[key] for p in parts], axis=-1 if parts[0][key].ndim <= 2
                                else axis) for key in parts[0]}


def frame_layout(split: str, index: int, layouts: int) -> int:
    """Layout id of a frame: training rooms in turn, or the held-out room."""
    if split == 'heldout':
        return layouts - 1
    return index % max(layouts - 1, 1)


def make_frame(seed: int, split: str, index: int, layouts: int, img_size: Tuple[int, int],
               min_people: int, max_people: int, csi_layout: str,
               snr_db: Optional[float], channel: Optional[ChannelConfig] = None,
               stations: int = 0, station_jitter: float = 0.05,
               heading_jitter: Optional[float] = None, sequence_frames: int = 0,
               windows: int = 1):
    """Scene, image, labels, annotations and CSI of one frame (in memory).

    Args:
        seed (int): Dataset seed.
        split (str): ``'train'``, ``'val'`` or ``'heldout'``.
        index (int): Frame index in the split.
        layouts (int): Number of room layouts.
        img_size (tuple[int, int]): ``(W, H)``.
        min_people (int): Fewest people.
        max_people (int): Most people.
        csi_layout (str): Key of :data:`CSI_LAYOUTS`.
        snr_db (float, optional): CSI SNR; None = noise free.
        channel (ChannelConfig, optional): Channel gains.
        stations (int): People stand at one of this many fixed spots of
            each room (:func:`layout_stations`); 0 = anywhere.
        station_jitter (float): Std (m) of a person's offset from its spot.
        heading_jitter (float, optional): People face the camera, turned by
            a normal angle of this std (radians); None = any heading.
        sequence_frames (int): Sequence mode (:mod:`.sequences`): frame
            ``index`` is frame ``index % sequence_frames`` of sequence
            ``index // sequence_frames``, one person performing an activity;
            0 = independent frames.
        windows (int): Consecutive frame windows of CSI per frame (sequence
            mode only; :func:`window_csi`).

    Returns:
        dict: ``scene``, ``camera``, ``image`` (H, W, 3) uint8, ``labels``,
        ``static_depth``, ``anns`` and ``csi`` (``simulate_csi`` output); in
        sequence mode also ``sequence`` (index), ``time`` (frame in it) and
        ``activity``.
    """
    rng = frame_rng(seed, split, index)
    width, height = img_size
    if sequence_frames > 0:
        seq, t = divmod(int(index), int(sequence_frames))
        spec = frame_sequence(seed, split, seq, layouts, (width, height), sequence_frames,
                              stations, station_jitter, heading_jitter)
        layout = make_layout(seed, frame_layout(split, seq, layouts))
        people = sequence_people(spec, t)
        joints, prims, props = build_people(people)
        scene = FrameScene(layout, people, joints, prims, props)
        light = sample_light(sequence_rng(seed, split, seq, 1))
        image, labels, static_depth = render_frame(scene, width, height, light, rng)
        camera = layout.camera(width, height)
        anns = annotate_frame(scene, camera, labels, rng)
        csi = window_csi(spec, layout, seed, split, seq, t, csi_layout, windows, snr_db,
                         channel)
        return dict(scene=scene, camera=camera, image=image, labels=labels,
                    static_depth=static_depth, anns=anns, csi=csi, sequence=seq, time=t,
                    activity=spec.activity)
    if windows != 1:
        raise ValueError(f'{windows} CSI windows per frame need sequence mode '
                         '(sequence_frames > 0)')
    layout = make_layout(seed, frame_layout(split, index, layouts))
    num = int(rng.integers(min_people, max_people + 1))
    spots = layout_stations(layout, stations) if stations > 0 else None
    scene = sample_frame(layout, rng, num, width, height, stations=spots,
                         station_jitter=station_jitter, heading_jitter=heading_jitter)
    light = sample_light(rng)
    image, labels, static_depth = render_frame(scene, width, height, light, rng)
    camera = layout.camera(width, height)
    anns = annotate_frame(scene, camera, labels, rng)
    csi = simulate_csi(scene, CSI_LAYOUTS[csi_layout], rng, snr_db=snr_db, cfg=channel)
    return dict(scene=scene, camera=camera, image=image, labels=labels,
                static_depth=static_depth, anns=anns, csi=csi)


def _write_frame(task: tuple) -> Tuple[dict, List[dict]]:
    out_dir, split, index, opts = task
    channel = ChannelConfig(**opts['channel']) if opts.get('channel') else None
    heading = opts.get('heading_jitter_deg')
    heading = None if heading is None else np.deg2rad(heading)
    frame = make_frame(opts['seed'], split, index, opts['layouts'], tuple(opts['img_size']),
                       opts['min_people'], opts['max_people'], opts['csi_layout'],
                       opts['snr_db'], channel, opts.get('stations', 0),
                       opts.get('station_jitter', 0.05), heading,
                       opts.get('sequence_frames', 0), opts.get('windows', 1))
    name = f'{index:06d}'
    img_file = f'images/{split}/{name}.jpg'
    csi_file = f'csi/{split}/{name}.mat'
    ok, jpg = cv2.imencode('.jpg', frame['image'], [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise RuntimeError(f'cannot encode {img_file}')
    with open(osp.join(out_dir, img_file), 'wb') as f:
        f.write(jpg.tobytes())
    layout = CSI_LAYOUTS[opts['csi_layout']]
    measured = layout.to_file(frame['csi']['measured'])
    with open(osp.join(out_dir, csi_file), 'wb') as f:
        f.write(savemat_bytes(dict(CSIamp=np.abs(measured).astype(np.float32),
                                   CSIphase=np.angle(measured).astype(np.float32))))
    h, w = frame['image'].shape[:2]
    image = dict(file_name=img_file, csi_file=csi_file, height=h, width=w,
                 layout_id=frame['scene'].layout.layout_id,
                 num_people=len(frame['scene'].people))
    if 'sequence' in frame:
        image.update(sequence_id=f"{split}-{frame['sequence']:05d}",
                     sequence_frame=frame['time'], activity=frame['activity'])
    return image, frame['anns']


def split_sizes(num_train: int, num_val: int, num_test_layout: int,
                layouts: int) -> Dict[str, int]:
    """Frames per split (no held-out split with a single layout)."""
    if layouts < 1:
        raise ValueError(f'layouts must be >= 1, got {layouts}')
    if layouts == 1 and num_test_layout > 0:
        raise ValueError('a held-out layout split needs layouts >= 2 (got layouts=1 and '
                         f'num_test_layout={num_test_layout})')
    return dict(train=num_train, val=num_val, heldout=num_test_layout)


def _coco(images: List[dict], anns: List[dict], split: str) -> dict:
    return dict(info=dict(description=f'mmdensekd synthetic WiFi DensePose, {split}'),
                images=images, annotations=anns,
                categories=[dict(id=1, name='person', supercategory='person',
                                 keypoints=list(COCO_JOINTS),
                                 skeleton=[[a + 1, b + 1] for a, b in COCO_SKELETON])])


def content_hash(out_dir: str) -> str:
    """sha256 over the relative paths and bytes of every generated file."""
    digest = hashlib.sha256()
    for sub in ('images', 'csi', 'annotations', 'eval_data'):
        root = osp.join(out_dir, sub)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                path = osp.join(dirpath, fn)
                digest.update(osp.relpath(path, out_dir).encode())
                with open(path, 'rb') as f:
                    digest.update(f.read())
    return digest.hexdigest()


def generate_dataset(out_dir: str, num_train: int = 600, num_val: int = 100,
                     num_test_layout: int = 100, img_size: Sequence[int] = (320, 240),
                     max_people: int = 3, min_people: int = 1, layouts: int = 3,
                     csi_layout: str = 'person-in-wifi', snr_db: Optional[float] = 25.0,
                     seed: int = 0, workers: int = 2, progress: bool = True,
                     channel: Optional[dict] = None, stations: int = 0,
                     station_jitter: float = 0.05,
                     heading_jitter_deg: Optional[float] = None,
                     sensing: Optional[str] = None, sequence_frames: int = 0,
                     windows: int = 1) -> dict:
    """Generate the synthetic paired dataset (see the module docstring).

    Args:
        out_dir (str): Output directory.
        num_train (int): Training frames (training layouts).
        num_val (int): Validation frames (training layouts).
        num_test_layout (int): Frames of the held-out layout.
        img_size (Sequence[int]): ``(W, H)``.
        max_people (int): Most people per frame.
        min_people (int): Fewest people per frame.
        layouts (int): Room layouts (the last one is held out).
        csi_layout (str): A key of :data:`CSI_LAYOUTS`, e.g.
            ``'person-in-wifi'`` (150x3x3) or ``'mmfi'`` (3x114x10).
        snr_db (float, optional): CSI thermal-noise SNR in dB.
        seed (int): Seed; same options give the same bytes.
        workers (int): Processes (1 = in this process).
        progress (bool): Show an mmengine progress bar.
        channel (dict, optional): Overrides of :class:`ChannelConfig`
            (e.g. ``dict(body_gain=3.0)``); recorded in ``meta.json``.
        stations (int): Fixed standing spots per room (0 = people stand
            anywhere in the activity area); recorded in ``meta.json``.
        station_jitter (float): Std (m) of a person's offset from its spot.
        heading_jitter_deg (float, optional): People face the camera,
            turned by a normal angle of this std (degrees); None = any
            heading. Recorded in ``meta.json``.
        sensing (str, optional): A key of :data:`SENSING` (a published
            system's sensing); sets ``csi_layout`` and ``windows``.
            Recorded in ``meta.json``.
        sequence_frames (int): Sequence mode: frames per activity sequence
            (:mod:`.sequences`; one person per frame; the splits draw
            different sequences, so train and val share none); 0 =
            independent frames. Recorded in ``meta.json``.
        windows (int): Consecutive frame windows of CSI per frame (sequence
            mode only); the layout's packets are split into this many.

    Returns:
        dict: The content of ``meta.json``.
    """
    if sensing is not None:
        if sensing not in SENSING:
            raise ValueError(f'sensing must be one of {sorted(SENSING)}, got {sensing!r}')
        csi_layout, windows = SENSING[sensing]['csi_layout'], SENSING[sensing]['windows']
    if sequence_frames < 0 or windows < 1:
        raise ValueError(f'need sequence_frames >= 0 and windows >= 1, got {sequence_frames}, '
                         f'{windows}')
    if windows > 1 and not sequence_frames:
        raise ValueError(f'{windows} CSI windows per frame need sequence mode '
                         '(sequence_frames > 0)')
    if sequence_frames and max_people != 1:
        raise ValueError(f'sequence mode has one person per frame, got max_people={max_people}')
    if csi_layout not in CSI_LAYOUTS:
        raise ValueError(f'csi_layout must be one of {sorted(CSI_LAYOUTS)}, got {csi_layout!r}')
    if not 1 <= min_people <= max_people:
        raise ValueError(f'need 1 <= min_people <= max_people, got {min_people}, {max_people}')
    width, height = (int(v) for v in img_size)
    if width < 32 or height < 32:
        raise ValueError(f'img_size must be at least 32x32, got {img_size}')
    sizes = split_sizes(num_train, num_val, num_test_layout, layouts)
    opts = dict(num_train=int(num_train), num_val=int(num_val),
                num_test_layout=int(num_test_layout), img_size=[width, height],
                max_people=int(max_people), min_people=int(min_people), layouts=int(layouts),
                csi_layout=csi_layout, snr_db=None if snr_db is None else float(snr_db),
                seed=int(seed))
    if stations < 0 or station_jitter < 0:
        raise ValueError(f'stations and station_jitter must be >= 0, got {stations}, '
                         f'{station_jitter}')
    if stations:
        opts.update(stations=int(stations), station_jitter=float(station_jitter))
    if heading_jitter_deg is not None:
        if heading_jitter_deg < 0:
            raise ValueError(f'heading_jitter_deg must be >= 0, got {heading_jitter_deg}')
        opts['heading_jitter_deg'] = float(heading_jitter_deg)
    if sensing is not None:
        opts['sensing'] = sensing
    if sequence_frames:
        opts.update(sequence_frames=int(sequence_frames), windows=int(windows))
    if CSI_LAYOUTS[csi_layout].num_packets % windows:
        raise ValueError(f'CSI layout {csi_layout!r} has {CSI_LAYOUTS[csi_layout].num_packets} '
                         f'packets, not a multiple of {windows} windows')
    if channel:
        ChannelConfig(**channel)  # unknown keys raise a TypeError naming them
        opts['channel'] = {k: float(channel[k]) for k in sorted(channel)}
    for sub in ('annotations', 'eval_data'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    tasks = []
    for split in SPLITS:
        for sub in ('images', 'csi'):
            os.makedirs(osp.join(out_dir, sub, split), exist_ok=True)
        tasks += [(out_dir, split, i, opts) for i in range(sizes[split])]
    _remove_stale(out_dir, sizes)
    results = _run(tasks, workers, progress)
    ann_id = 1
    by_split: Dict[str, Tuple[list, list]] = {s: ([], []) for s in SPLITS}
    for (_, split, index, _), (image, anns) in zip(tasks, results):
        img_id = _SPLIT_CODE[split] * 1000000 + index + 1
        image = dict(id=img_id, **image)
        by_split[split][0].append(image)
        for ann in anns:
            by_split[split][1].append(dict(id=ann_id, image_id=img_id, **ann))
            ann_id += 1
    for split in SPLITS:
        images, anns = by_split[split]
        with open(osp.join(out_dir, 'annotations', f'densepose_{split}.json'), 'w') as f:
            json.dump(_coco(images, anns, split), f, separators=(',', ':'))
    write_eval_data(osp.join(out_dir, 'eval_data'))
    layout = CSI_LAYOUTS[csi_layout]
    meta = dict(generator='mmdensekd.simulation', version=GENERATOR_VERSION, options=opts,
                splits={s: dict(images=len(by_split[s][0]), instances=len(by_split[s][1]))
                        for s in SPLITS},
                data_prefix=dict(img='', csi=''),
                csi=dict(layout=csi_layout, shape=list(layout.shape), amp_key='CSIamp',
                         phase_key='CSIphase', sanitize=layout.sanitize_kwargs(),
                         windows=int(windows), num_links=layout.num_links),
                content_hash=content_hash(out_dir))
    meta = json.loads(json.dumps(meta))  # plain json types (tuples -> lists)
    meta_file = osp.join(out_dir, 'meta.json')
    with open(meta_file, 'w') as f:
        json.dump(meta, f, indent=2, sort_keys=True)
    if by_split['train'][0]:
        # the students' CSI normalisation: statistics of the training split as
        # the paired pipeline feeds it (loaded, phase sanitised)
        from mmdensekd.datasets.csi_stats import csi_stats_of_files, write_csi_stats
        stats = csi_stats_of_files(
            [osp.join(out_dir, im['csi_file']) for im in by_split['train'][0]],
            load=dict(expected_shape=layout.shape), sanitize=layout.sanitize_kwargs())
        stats['source'] = 'annotations/densepose_train.json'
        write_csi_stats(meta_file, stats)
        with open(meta_file) as f:
            meta = json.load(f)
    return meta


def _remove_stale(out_dir: str, sizes: Dict[str, int]) -> None:
    """Delete frames of an earlier, larger generation in the same directory."""
    for split in SPLITS:
        for sub, ext in (('images', '.jpg'), ('csi', '.mat')):
            folder = osp.join(out_dir, sub, split)
            for fn in sorted(os.listdir(folder)):
                stem, suffix = osp.splitext(fn)
                if suffix == ext and stem.isdigit() and len(stem) == 6 and \
                        int(stem) >= sizes[split]:
                    os.remove(osp.join(folder, fn))


def _run(tasks: list, workers: int, progress: bool) -> list:
    bar = None
    if progress and tasks:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(tasks))
    results = []
    if workers <= 1 or len(tasks) < 2:
        for task in tasks:
            results.append(_write_frame(task))
            if bar is not None:
                bar.update()
    else:
        ctx = mp.get_context('fork') if 'fork' in mp.get_all_start_methods() else mp
        with ctx.Pool(workers) as pool:
            for res in pool.imap(_write_frame, tasks, chunksize=4):
                results.append(res)
                if bar is not None:
                    bar.update()
    if bar is not None:
        print()
    return results
