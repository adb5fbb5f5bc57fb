# Copyright (c) mmdensekd contributors. All rights reserved.
"""The quickstart's control and bookkeeping (tools/misc/quickstart.py)."""
import json

import pytest


@pytest.fixture(scope='module')
def quickstart(load_tool):
    return load_tool('misc/quickstart.py')


def _paired_ann(tmp_path, n):
    images = [dict(id=i + 1, file_name=f'images/train/{i:04d}.jpg',
                   csi_file=f'csi/train/{i:04d}.mat', height=240, width=320) for i in range(n)]
    anns = [dict(id=i + 1, image_id=i + 1, category_id=1, bbox=[1, 2, 30, 60])
            for i in range(n)]
    path = tmp_path / 'pseudo.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=[])))
    return path


@pytest.mark.parametrize('n', [2, 3, 17])
def test_control_permutes_every_frame_csi(quickstart, tmp_path, n):
    src = _paired_ann(tmp_path, n)
    out = tmp_path / 'shuffled.json'
    mapping = quickstart.shuffle_csi(str(src), str(out), seed=0)
    before = json.loads(src.read_text())
    after = json.loads(out.read_text())
    own = {img['id']: img['csi_file'] for img in before['images']}
    # every frame gets another frame's CSI, and every CSI file is used once
    assert all(mapping[i] != own[i] for i in own)
    assert sorted(mapping.values()) == sorted(own.values())
    # only the CSI reference changes: annotations and frames stay paired
    assert after['annotations'] == before['annotations']
    assert [i['file_name'] for i in after['images']] == [i['file_name'] for i in before['images']]
    # deterministic by seed, different across seeds (for n large enough)
    again = quickstart.shuffle_csi(str(src), str(tmp_path / 'again.json'), seed=0)
    assert again == mapping
    if n > 3:
        assert quickstart.shuffle_csi(str(src), str(tmp_path / 'o.json'), seed=1) != mapping


def test_control_needs_two_frames(quickstart, tmp_path):
    with pytest.raises(ValueError, match='at least 2 images'):
        quickstart.shuffle_csi(str(_paired_ann(tmp_path, 1)), str(tmp_path / 'o.json'), 0)


def test_acceptance_bars(quickstart):
    row = dict.fromkeys(('box AP', 'box AP50', 'kpt AP', 'GPS AP', 'GPSm AP', 'IOU AP'), 0.0)
    good = dict(teacher={**row, 'box AP50': 0.9},
                student={**row, 'box AP50': 0.5, 'kpt AP': 0.2, 'GPS AP': 0.3},
                control={**row, 'box AP50': 0.2, 'kpt AP': 0.1, 'GPS AP': 0.1})
    assert all(b.startswith('[PASS]') for b in quickstart.check_bars({'val': good}))
    # 0.45 vs 0.2: 0.25 above but not twice the control
    bad = dict(good, student={**good['student'], 'box AP50': 0.39})
    lines = quickstart.check_bars({'val': bad})
    assert [b[:6] for b in lines] == ['[FAIL]', '[FAIL]', '[PASS]', '[PASS]', '[PASS]']


def test_world_flags_reach_the_generator(quickstart, load_tool):
    generator = load_tool('dataset_converters/make_synthetic_wifi_densepose.py')
    args = generator.parse_args(quickstart.generator_flags(quickstart.parse_args([])))
    assert args.heading_jitter == 20.0 and args.stations == 6 and args.max_people == 1
    assert tuple(args.img_size) == (256, 192) and args.csi_layout == 'person-in-wifi'
    # a negative heading jitter is the generator's default: people at any heading
    args = generator.parse_args(quickstart.generator_flags(
        quickstart.parse_args(['--heading-jitter', '-1', '--seed', '3'])))
    assert args.heading_jitter is None and args.seed == 3


def test_another_work_dir_keeps_its_own_data(quickstart, tmp_path):
    """``--work-dir X`` writes and reads ``X/data`` (the configs name the
    default work dir's data): every data path of the trained configs moves."""
    from mmengine.config import Config
    root = str(tmp_path / 'seed1' / 'data')
    flags = quickstart.generator_flags(quickstart.parse_args([]), root)
    assert flags[flags.index('--out-dir') + 1] == root
    cfg = Config.fromfile(f'{quickstart.ROOT}/{quickstart.STUDENT_CFG}')
    opts = quickstart.data_options(root, True) + quickstart.split_options(root, 'heldout')
    cfg.merge_from_dict(dict(o.split('=', 1) for o in opts))
    assert cfg.train_dataloader.dataset.data_root == cfg.test_dataloader.dataset.data_root \
        == root + '/'
    assert cfg.test_dataloader.dataset.ann_file == 'annotations/densepose_heldout.json'
    assert [e.ann_file for e in cfg.test_evaluator] == [
        f'{root}/annotations/densepose_heldout.json'] * 3
    assert cfg.test_evaluator[2].eval_data_dir == root + '/eval_data'
    assert cfg.model.student.data_preprocessor.csi_stats_file == root + '/meta.json'
