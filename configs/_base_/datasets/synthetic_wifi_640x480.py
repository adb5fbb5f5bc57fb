# The simulated camera + WiFi world at full frame size: data/synthetic_wifi
# (frames 640x480, unscaled), validation on the training rooms
# (densepose_val), test on the unseen room (densepose_heldout). The GPU
# teacher and its CSI student share it.
_base_ = ['./synthetic_wifi.py']

data_root = 'data/synthetic_wifi/'
img_scale = (640, 480)  # the generated frames, unscaled

resize = dict(type='DensePoseResize', scale=img_scale, keep_ratio=True)
train_pipeline = [_base_.load_image, _base_.load_annotations, resize, _base_.pack_train]
test_pipeline = [
    _base_.load_image, resize,
    dict(type='PackDensePoseInputs', meta_keys=_base_.test_meta_keys)
]
paired_train_pipeline = [
    _base_.load_image, _base_.load_annotations, *_base_.csi_steps, resize, _base_.pack_train
]
paired_test_pipeline = [_base_.load_image, *_base_.csi_steps, resize, _base_.pack_paired_test]
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=2, persistent_workers=True,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=_base_.dataset_type, data_root=data_root,
                 ann_file='annotations/densepose_heldout.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=test_pipeline))

# the base's metrics with their files under this data_root
val_evaluator = [
    dict(e, **{k: data_root + e[k][len(_base_.data_root):]
               for k in ('ann_file', 'eval_data_dir') if k in e})
    for e in _base_.val_evaluator
]
test_evaluator = [dict(e, ann_file=data_root + 'annotations/densepose_heldout.json')
                  for e in val_evaluator]
