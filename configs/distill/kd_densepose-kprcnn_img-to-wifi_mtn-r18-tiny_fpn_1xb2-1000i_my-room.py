# A CSI student for YOUR room: the quickstart's CPU student recipe
# (kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py)
# trained on a recording of your own camera + WiFi card (Person-in-WiFi
# layout, 150x3x3). Template: set `data_root` to your session and
# `teacher_ckpt` to an image teacher of this architecture that sees your
# camera well; the commands are in the README ("Your own room"). The
# converter stores the CSI statistics in `paired/index.json`.
_base_ = ['./kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py']

data_root = 'data/my_room/session1/'
ann_file = 'paired/annotations/pseudo_train.json'

model = dict(student=dict(data_preprocessor=dict(csi_stats_file=data_root + 'paired/index.json')))

# record_paired.py + the converter write frames/ and paired/{csi,annotations}
paired_data = dict(type='PairedWiFiDensePoseDataset', data_root=data_root,
                   data_prefix=dict(img='frames/', csi='paired/'), ann_file=ann_file)
train_dataloader = dict(dataset=dict(paired_data, pipeline=_base_.paired_train_pipeline))
# no held-out labels in a fresh room: validate on a second session's pseudo
# labels when you have one (set its ann_file here and in the evaluators)
val_dataloader = dict(dataset=dict(paired_data, pipeline=_base_.paired_test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + ann_file, metric='bbox'),
    dict(type='CocoKeypointMetric', ann_file=data_root + ann_file),
]
test_evaluator = val_evaluator
