# Copyright (c) mmdensekd contributors. All rights reserved.
"""tools/analysis/print_config.py and benchmark_inference.py."""
import pytest


def test_print_config(load_tool, tiny_config, tmp_path, capsys):
    tool = load_tool('analysis/print_config.py')
    tool.main([tiny_config, '--cfg-options', 'train_cfg.max_iters=7', '--save-path',
               str(tmp_path / 'dumped.py')])
    out = capsys.readouterr().out
    assert out.startswith('Config:\n') and 'max_iters=7' in out
    assert "type='DensePoseRCNN'" in out  # _base_ merged
    assert 'max_iters=7' in (tmp_path / 'dumped.py').read_text()


def test_benchmark_synthetic_image(load_tool, tiny_config, capsys):
    tool = load_tool('analysis/benchmark_inference.py')
    result = tool.main([tiny_config, '--shape', '96', '128', '--num-images', '2', '--warmup',
                        '1', '--device', 'cpu'])
    out = capsys.readouterr().out
    assert result['median_ms'] > 0
    assert result['images_per_s'] == pytest.approx(1000 / result['median_ms'])
    assert result['min_ms'] <= result['median_ms'] <= result['max_ms']
    for row in ('median latency (ms/img)', 'mean latency (ms/img)', 'images/s (median)',
                'synthetic 96x128', 'random init'):
        assert row in out


def test_benchmark_rejects_bad_counts(load_tool, tiny_config):
    tool = load_tool('analysis/benchmark_inference.py')
    with pytest.raises(SystemExit):
        tool.parse_args([tiny_config, '--num-images', '0'])
