# The camera frames of the simulated camera + WiFi world with their exact
# DensePose and keypoint ground truth, written by
#   python tools/dataset_converters/make_synthetic_wifi_densepose.py
# (default work_dirs/quickstart/data: annotations/densepose_{train,val}.json,
# frames at the paths they give). GPS/GPSm are computed on the synthetic body
# surface the generator writes to eval_data/. No flip, no worker processes.
# The paired pipelines below add the Person-in-WiFi-layout CSI of the same
# frames for the WiFi students (their dataloaders are in the student configs).
dataset_type = 'DensePoseCocoDataset'
data_root = 'work_dirs/quickstart/data/'
img_scale = (256, 192)

# named pieces of the pipelines below (configs compose them by name)
load_image = dict(type='LoadImageFromFileWithId')
load_annotations = dict(type='LoadDensePoseAnnotations', with_bbox=True, with_keypoints=True,
                        with_densepose=True)
resize = dict(type='DensePoseResize', scale=img_scale, keep_ratio=True)
pack_train = dict(type='PackDensePoseInputs')
test_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')
train_pipeline = [load_image, load_annotations, resize, pack_train]
test_pipeline = [load_image, resize, dict(type='PackDensePoseInputs', meta_keys=test_meta_keys)]
# the students' camera + CSI pipelines: the image steps above (the teacher's
# input) with the CSI of the same frame loaded, sanitised and packed before
# the image is resized
csi_layout = 'person-in-wifi'  # mmdensekd/structures/csi_layout.py: (150, 3, 3)
csi_shape = (150, 3, 3)  # the layout's shape (the MTN's input)
# rows of the 150 are packet * 30 + subcarrier: the layout sanitises along the
# subcarriers of each packet
csi_steps = [
    dict(type='LoadCSIFromFile', layout=csi_layout),
    dict(type='CSIPhaseSanitize', layout=csi_layout),
    dict(type='PackCSI')
]
paired_train_pipeline = [load_image, load_annotations, *csi_steps, resize, pack_train]
pack_paired_test = dict(
    type='PackDensePoseInputs',
    meta_keys=('img_id', 'img_path', 'csi_path', 'ori_shape', 'img_shape', 'scale_factor'))
paired_test_pipeline = [load_image, *csi_steps, resize, pack_paired_test]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/densepose_train.json', data_prefix=dict(img=''),
                 filter_cfg=dict(filter_empty_gt=True, min_size=8), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/densepose_val.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/densepose_val.json',
         metric='bbox'),
    dict(type='CocoKeypointMetric', ann_file=data_root + 'annotations/densepose_val.json'),
    dict(type='DensePoseMetric', ann_file=data_root + 'annotations/densepose_val.json',
         eval_data_dir=data_root + 'eval_data'),
]
test_evaluator = val_evaluator
