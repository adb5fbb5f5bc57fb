# Copyright (c) mmdensekd contributors. All rights reserved.
"""Crafted pickles: a ``Pdist_matrix.pkl`` and ``.pkl`` / ``.pth``
checkpoints whose unpickling would create a file. Every reader refuses them
with an error naming the file (and the refused global), and the file is never
created."""
import os
import os.path as osp
import pickle
import shutil
import zipfile

import pytest
import torch

from mmdensekd.testing.synthetic_eval_data import write_synthetic_eval_data

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class _Payload:
    """Unpickling this calls ``os.system('touch MARKER')``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def _write_pickle(path, obj) -> str:
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=2)
    return str(path)


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / 'PWNED'
    yield str(path)
    assert not path.exists(), 'the payload ran: the marker file was created'


def test_payload_works_with_plain_pickle(tmp_path):
    """The payload is real: plain ``pickle.load`` does run it."""
    target = tmp_path / 'RAN'
    path = _write_pickle(tmp_path / 'x.pkl', {'Pdist_matrix': _Payload(str(target))})
    with open(path, 'rb') as f:
        pickle.load(f)
    assert target.exists()


def test_malicious_pdist_matrix_refused(tmp_path, marker):
    from mmdensekd.evaluation.functional import load_densepose_eval_data
    data_dir = write_synthetic_eval_data(str(tmp_path))
    pdist = osp.join(data_dir, 'Pdist_matrix.pkl')
    _write_pickle(pdist, {'Pdist_matrix': _Payload(marker)})
    with pytest.raises(ValueError, match=r'Pdist_matrix\.pkl.*refused global '
                       r'(posix|os|nt)\.system'):
        load_densepose_eval_data(data_dir)
    assert not osp.exists(marker)


def test_malicious_pdist_through_eval_tool(tmp_path, marker, tiny_coco):
    import importlib.util
    import json
    data_dir = write_synthetic_eval_data(str(tmp_path))
    _write_pickle(osp.join(data_dir, 'Pdist_matrix.pkl'), {'Pdist_matrix': _Payload(marker)})
    spec = importlib.util.spec_from_file_location(
        'robust_eval_tool', osp.join(ROOT, 'tools', 'analysis', 'eval_densepose_results.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    results = tmp_path / 'res.json'
    results.write_text(json.dumps([]))
    with pytest.raises(ValueError, match='refused global'):
        tool.main([str(results), tiny_coco.write(), '--modes', 'GPS', '--eval-data',
                   data_dir])


def test_malicious_pkl_checkpoint_refused_by_converter(tmp_path, marker):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'robust_d2_conv',
        osp.join(ROOT, 'tools', 'model_converters', 'detectron2_to_mmdensekd.py'))
    conv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conv)
    ckpt = _write_pickle(tmp_path / 'model_final.pkl', {'model': {'w': _Payload(marker)}})
    with pytest.raises(ValueError, match=r'model_final\.pkl.*refused global '
                       r'(posix|os|nt)\.system'):
        conv.load_detectron2_checkpoint(ckpt)
    assert not osp.exists(marker)


def _torch_checkpoint_with_payload(path, marker) -> str:
    """A real ``torch.save`` zip whose data.pkl holds the payload."""
    torch.save({'state_dict': {'w': torch.zeros(2)}, 'meta': _Payload(marker)}, str(path))
    return str(path)


@pytest.mark.parametrize('suffix', ['.pth', '.pkl'])
def test_malicious_checkpoint_refused_by_mmengine_loading(tmp_path, marker, suffix):
    from mmengine.runner import load_checkpoint
    ckpt = tmp_path / f'evil{suffix}'
    if suffix == '.pth':
        _torch_checkpoint_with_payload(ckpt, marker)
        assert zipfile.is_zipfile(ckpt)
    else:  # a legacy plain pickle named .pkl
        _write_pickle(ckpt, {'state_dict': {'w': _Payload(marker)}})
    with pytest.raises(Exception, match='(?i)weights.only|unsupported global|refused'):
        load_checkpoint(torch.nn.Linear(2, 1), str(ckpt), map_location='cpu')
    assert not osp.exists(marker)


def test_malicious_checkpoint_refused_by_init_model(tmp_path, marker):
    from mmdensekd.apis import init_model
    ckpt = _torch_checkpoint_with_payload(tmp_path / 'evil.pth', marker)
    cfg = osp.join(ROOT, 'configs', 'densepose_rcnn',
                   'densepose-rcnn_tiny_cpu_densepose-coco-tiny.py')
    with pytest.raises(Exception, match='(?i)weights.only|unsupported global|refused'):
        init_model(cfg, ckpt, device='cpu')
    assert not osp.exists(marker)


def test_malicious_resume_checkpoint_refused(tmp_path, marker):
    """``--resume`` reads checkpoints with weights-only loading too."""
    from mmengine.runner.checkpoint import _load_checkpoint

    from mmdensekd.utils import allow_mmengine_checkpoint_globals
    allow_mmengine_checkpoint_globals()
    ckpt = _torch_checkpoint_with_payload(tmp_path / 'iter_5.pth', marker)
    shutil.copy(ckpt, tmp_path / 'latest.pth')
    with pytest.raises(Exception, match='(?i)weights.only|unsupported global|refused'):
        _load_checkpoint(str(tmp_path / 'latest.pth'), map_location='cpu')
