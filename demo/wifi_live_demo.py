# Copyright (c) mmdensekd contributors. All rights reserved.
"""Live WiFi DensePose: a CSI student draws people from CSI as it arrives.

Example (headless sensing box, page on http://localhost:8080), with ``CFG``
the quickstart student's config,
    configs/distill/kd_densepose-kprcnn_img-to-wifi_mtn-r18-tiny_fpn_1xb2-1000i_synthetic-wifi.py::

    python demo/wifi_live_demo.py $CFG work_dirs/quickstart/student/iter_1000.pth \
        --source udp://0.0.0.0:5500 --rate 25 --window 0.2 --serve 8080

``--source`` is ``udp://HOST:PORT`` (nexmon_csi, or Intel ``log_to_server``
records), ``serial:///dev/ttyUSB0?baud=921600`` (ESP32-CSI-Tool), ``stdin:``,
``follow:FILE`` (a capture that is still being written) or
``replay:FILE[?speed=F&loop=1]`` (a finished capture in real time); see
:mod:`mmdensekd.datasets.csi_stream`. Frames are cut with the offline
converter's rules (:class:`~mmdensekd.datasets.csi_windowing.StreamWindower`)
every ``1 / --rate`` seconds over ``--window`` seconds of packets.

Threads: the source (packets -> frames), ``--workers`` model workers (2 on
a machine with 2 or more cores; each its own copy of the student with one
torch thread, running consecutive frames at once; frames the workers cannot
take are dropped and counted) and the main thread (drawing in frame order,
OpenCV window with ``--show``, MJPEG page with ``--serve PORT``, video with
``--out``). The live defaults trade exactness for speed where a drawing
does not show it: BatchNorm folded and channels-last convolutions, 50 RPN
proposals (``--proposals``), and charts / keypoint heatmaps decoded at the
predictor resolution / resized bilinearly (``--decoding fast``; ``--decoding
exact --proposals 0`` gives the file demo's detections).
``tools/analysis/benchmark_live.py`` measures both and how they agree.
Every second it prints frames/s, the latency from the arrival of a window's
newest packet to its drawing and the CPU time per frame of model and
drawing; malformed packets, cut lines, truncated files and stalls are
counted, written on the frame and on the page, and logged. Ctrl-C stops it
cleanly.
"""
import copy
import json
import os
import os.path as osp
import signal
import sys
import threading
import time
from argparse import ArgumentParser, BooleanOptionalAction, Namespace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from image_demo import add_common_args, cli  # noqa: E402
from wifi_demo import CSI_STEPS, csi_model_shapes, wifi_student_config  # noqa: E402

from mmdensekd.apis import init_model  # noqa: E402
from mmdensekd.datasets.csi_capture import CAPTURE_FORMATS  # noqa: E402
from mmdensekd.datasets.csi_stream import LiveCSIStream, open_source  # noqa: E402
from mmdensekd.datasets.csi_windowing import StreamWindower  # noqa: E402
from mmdensekd.registry import TRANSFORMS  # noqa: E402
from mmdensekd.structures.csi_layout import layout_from_shape, parse_layout  # noqa: E402

#: ``--decoding`` choices (see :class:`LiveStudent`).
LIVE_DECODINGS = ('fast', 'exact')
#: ``--proposals`` default: RPN proposals per live frame.
DEFAULT_PROPOSALS = 50
#: COCO keypoint links (0-based) drawn by the fast live painter.
_SKELETON = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
             (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5),
             (4, 6))


def parse_args(argv: Optional[List[str]] = None) -> Namespace:
    parser = add_common_args(ArgumentParser(description=__doc__.split('\n')[0]))
    parser.add_argument('--source', required=True,
                        help='udp://HOST:PORT | serial://DEV?baud=B | stdin: | follow:FILE | '
                        'replay:FILE[?speed=F&loop=1]')
    parser.add_argument('--format', default='auto', choices=('auto', ) + CAPTURE_FORMATS,
                        help='capture format of follow:/replay: files')
    parser.add_argument('--chip', default='4358', help='nexmon chip (udp / pcap)')
    parser.add_argument('--layout', help='CSI layout (default: from the MTN input shape)')
    parser.add_argument('--rate', type=float,
                        help='frames per second (default: packet rate / packets per frame)')
    parser.add_argument('--window', type=float, help='window length in s (default 1 / rate)')
    parser.add_argument('--min-packets', type=int, help='fewer real packets skip a frame')
    parser.add_argument('--amplitude', default='auto', choices=('auto', 'linear', 'db'))
    parser.add_argument('--stall-timeout', type=float, default=10.0,
                        help='seconds without packets counted as a stall')
    parser.add_argument('--show', action='store_true', help='OpenCV window (needs a display)')
    parser.add_argument('--serve', type=int, help='serve an MJPEG page on this port')
    parser.add_argument('--host', default='127.0.0.1', help='address of the --serve page')
    parser.add_argument('--out', help='record the drawings: video (.mp4/.avi) or a folder')
    parser.add_argument('--fourcc', default='mp4v')
    parser.add_argument('--max-frames', type=int, default=-1, help='stop after N drawn frames')
    parser.add_argument('--duration', type=float, default=-1, help='stop after S seconds')
    parser.add_argument('--draw', default='fast', choices=('fast', 'full'),
                        help='fast: boxes, keypoints and part colours with OpenCV; full: '
                        'the DensePoseVisualizer (slower)')
    parser.add_argument('--channels-last', action=BooleanOptionalAction, default=True,
                        help='fold BatchNorm and run convolutions channels-last (default; '
                        'about a third less CPU time per frame for the quickstart student)')
    parser.add_argument('--proposals', type=int, default=DEFAULT_PROPOSALS,
                        help=f'RPN proposals per frame (default {DEFAULT_PROPOSALS}; 0: the '
                        "config's, 200 for the quickstart student). Fewer proposals make the "
                        'box head cheaper; a room of a few people needs few')
    parser.add_argument('--decoding', default='fast', choices=LIVE_DECODINGS,
                        help="fast (default): DensePose charts decoded at the predictor "
                        "resolution (the head's decoding='fast') and keypoint heatmaps "
                        "resized bilinearly instead of bicubically; exact: the config's "
                        'decoding (that of the file demo and the evaluation). '
                        'tools/analysis/benchmark_live.py prints how much they agree')
    parser.add_argument('--workers', type=int, default=default_workers(),
                        help='model workers, each with its own copy of the student, '
                        'running consecutive frames at once (default: 2 on a machine with 2 '
                        'or more cores, else 1)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads of each worker (0: torch default). 1 '
                        'per worker: on a loaded 2-core CPU two threads made one model 5x '
                        'slower, while two workers of one thread use both cores')
    parser.add_argument('--jpeg-quality', type=int, default=70,
                        help='JPEG quality of the --serve stream')
    return parser.parse_args(argv)


def default_workers() -> int:
    """Model workers by default: 2 where there are 2 or more cores, else 1."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


class LiveStudent:
    """A CSI student run on live frames without the generic data pipeline.

    The config's CSI steps between loading and packing (e.g.
    ``CSIPhaseSanitize``) run on the frame's arrays; amplitude and phase are
    stacked into the ``(1, 2, *S)`` batch that ``PackCSI`` and collation
    would give and the model's own ``test_step`` (data preprocessor, MTN,
    detector) runs on it, so the detections are those of the file-based
    demo for the same frame.

    With ``score_thr``, the detector's RoI heads keep only boxes scoring at
    least that (never less than the config's own threshold), so the
    DensePose and keypoint heads run only on people that will be drawn: the
    drawn detections are unchanged (NMS and the top-k keep the boxes above
    the threshold either way), the time per frame falls with the number of
    low-scoring boxes.

    With ``proposals``, the RPN keeps at most that many proposals per frame
    (and ``4 * proposals`` per level before its NMS) instead of the config's
    (200 for the quickstart student): the box head's cost falls about in
    proportion; a room with a few people needs far fewer. This one can
    change results (a person found only by a low-ranked proposal is lost),
    so the class keeps the config's by default; the live demo asks for
    :data:`DEFAULT_PROPOSALS` (``--proposals``).

    With ``decoding='fast'``, DensePose chart heads decode at the predictor
    resolution (their ``decoding='fast'``: argmax there, labels resized to
    the box by nearest pixel) and keypoint coders resize the heatmaps
    bilinearly instead of bicubically before the argmax. The boxes do not
    change; parts and keypoints may move by about a heatmap cell. For the
    quickstart student this took two thirds of the model's CPU time off the
    decoding (``tools/analysis/benchmark_live.py`` prints both times and
    the agreement for a checkpoint). ``'exact'`` keeps the config's
    decoding (that of the evaluation and the file demo).

    Args:
        model: The student (or older distiller) from :func:`init_model`.
        cfg (Config): Its config (from :func:`wifi_student_config`).
        score_thr (float, optional): Drawing threshold of the boxes.
        proposals (int, optional): RPN proposals per frame.
        decoding (str): ``'exact'`` (default) or ``'fast'``.
    """

    def __init__(self, model, cfg, score_thr: Optional[float] = None,
                 proposals: Optional[int] = None, decoding: str = 'exact') -> None:
        if decoding not in LIVE_DECODINGS:
            raise ValueError(f'decoding must be one of {LIVE_DECODINGS}, got {decoding!r}')
        self.model = model
        self.decoding = decoding
        #: what the live settings changed: module name -> setting
        self.changed: Dict[str, str] = {}
        if decoding == 'fast':
            self.changed.update(fast_decoding(model))
        self.heads_score_thr = None
        for module in model.modules():
            test_cfg = getattr(module, 'test_cfg', None)
            if test_cfg is None or not hasattr(test_cfg, 'get'):
                continue
            if score_thr is not None and hasattr(module, 'bbox_head') and \
                    'score_thr' in test_cfg:
                test_cfg.score_thr = max(float(test_cfg.score_thr), float(score_thr))
                self.heads_score_thr = test_cfg.score_thr
            if proposals and hasattr(module, 'rpn_conv') and \
                    'max_per_img' in test_cfg:
                test_cfg.max_per_img = int(proposals)
                test_cfg.nms_pre = min(int(test_cfg.get('nms_pre', 4 * proposals)),
                                       4 * int(proposals))
        test = cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline') or \
            cfg.get('test_pipeline') or []
        names = [str(t['type']).split('.')[-1] for t in test]
        steps = [dict(t) for t, n in zip(test, names) if n in CSI_STEPS[1:-1]]
        if 'LoadCSIFromFile' not in names:
            raise ValueError('the config test pipeline has no LoadCSIFromFile step')
        self.steps = [TRANSFORMS.build(t) for t in steps]
        self.amp_shape, self.canvas_shape = csi_model_shapes(cfg)

    def clone(self) -> 'LiveStudent':
        """A copy with a model of its own (for another model worker: nothing
        a forward pass keeps, e.g. stage-autocast hooks, is shared)."""
        other = copy.copy(self)
        other.model = copy.deepcopy(self.model)
        other.steps = copy.deepcopy(self.steps)
        return other

    def prepare(self, amplitude: np.ndarray, phase: np.ndarray, img_id: int = 0,
                name: str = 'live') -> dict:
        """The collated batch of one frame."""
        from mmdet.structures import DetDataSample
        results = dict(csi_amplitude=amplitude, csi_phase=phase, csi_shape=amplitude.shape,
                       csi_path=name, img_id=img_id)
        for step in self.steps:
            results = step(results)
        csi = np.stack([np.asarray(results['csi_amplitude'], np.float32),
                        np.asarray(results['csi_phase'], np.float32)])
        sample = DetDataSample(metainfo=dict(img_id=img_id, csi_path=name))
        return dict(inputs=dict(csi=[torch.from_numpy(csi)]), data_samples=[sample])

    @torch.no_grad()
    def __call__(self, amplitude: np.ndarray, phase: np.ndarray, img_id: int = 0):
        """Detections (``pred_instances``) of one frame."""
        return self.model.test_step(self.prepare(amplitude, phase, img_id))[0].pred_instances


def fast_decoding(model) -> Dict[str, str]:
    """Switch ``model``'s DensePose chart heads to ``decoding='fast'`` and its
    R-CNN keypoint coders to bilinear heatmap resizing (see
    :class:`LiveStudent`); returns what changed (module name -> setting)."""
    from mmdensekd.models.heads import DensePoseChartHead
    from mmdensekd.models.task_modules.coders import RCNNKeypointCoder
    changed = {}
    for name, module in model.named_modules():
        if isinstance(module, DensePoseChartHead) and module.decoding != 'fast':
            module.decoding = 'fast'
            changed[name] = "decoding='fast'"
        coder = getattr(module, 'coder', None)
        if isinstance(coder, RCNNKeypointCoder) and coder.resize_mode != 'bilinear' and \
                not (coder.use_dark or coder.use_udp):
            coder.resize_mode = 'bilinear'
            changed[f'{name}.coder'] = "resize_mode='bilinear'"
    return changed


def _np(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


class FastPainter:
    """Boxes, keypoints and DensePose part colours drawn with OpenCV.

    A live path at 25 frames/s has 40 ms per frame for model and drawing
    together; this draws each person's part labels (the chart decoded at
    the box, ``densepose.labels``) in colour over a cached background, the
    skeleton and the box, in about a millisecond on the canvas of the MTN
    output (e.g. 256 x 192).
    """

    def __init__(self, canvas_shape, score_thr: float = 0.5, kpt_thr: float = 0.3,
                 alpha: float = 0.6, draw_bbox: bool = True, draw_keypoints: bool = True,
                 draw_parts: bool = True) -> None:
        self.canvas_shape = tuple(canvas_shape)
        self.score_thr, self.kpt_thr, self.alpha = score_thr, kpt_thr, alpha
        self.draw_bbox, self.draw_keypoints, self.draw_parts = draw_bbox, draw_keypoints, \
            draw_parts
        rng = np.random.RandomState(3)
        self.part_colors = np.concatenate(
            [np.zeros((1, 3), np.uint8), rng.randint(60, 256, (32, 3)).astype(np.uint8)])
        self.background = np.zeros(self.canvas_shape + (3, ), np.uint8)
        self.lut = np.zeros((256, 1, 3), np.uint8)  # label -> colour (cv2.LUT)
        self.lut[:len(self.part_colors), 0] = self.part_colors

    @staticmethod
    def _labels(densepose, i: int) -> Optional[np.ndarray]:
        """(h, w) part labels (0 = background) of instance ``i``, or None."""
        labels = getattr(densepose, 'labels', None)
        if labels is None or i >= len(labels):
            return None
        return _np(labels[i]).astype(np.uint8)

    def __call__(self, instances, canvas: Optional[np.ndarray] = None) -> np.ndarray:
        """A BGR drawing of ``instances`` on ``canvas`` (the cached black
        background by default; never changed)."""
        h, w = self.canvas_shape
        img = (self.background if canvas is None else canvas).copy()
        if instances is None or 'bboxes' not in instances or len(instances) == 0:
            return img
        boxes = _np(instances.bboxes).reshape(-1, 4)
        scores = _np(instances.scores) if 'scores' in instances else np.ones(len(boxes))
        keep = np.nonzero(scores >= self.score_thr)[0]
        densepose = instances.get('densepose', None) if hasattr(instances, 'get') else None
        kpts = _np(instances.keypoints) if 'keypoints' in instances else None
        kscores = _np(instances.keypoint_scores) if 'keypoint_scores' in instances else None
        for i in keep:
            if self.draw_parts and densepose is not None:
                self._paint_parts(img, self._labels(densepose, i), boxes[i])
            x0, y0, x1, y1 = [int(round(v)) for v in boxes[i]]
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if self.draw_bbox:
                cv2.rectangle(img, (x0, y0), (max(x1 - 1, x0), max(y1 - 1, y0)), (0, 255, 0),
                              1)
            if self.draw_keypoints and kpts is not None:
                pts = kpts[i].astype(np.int32)
                ok = kscores[i] >= self.kpt_thr if kscores is not None else np.ones(len(pts),
                                                                                    bool)
                for a, b in _SKELETON:
                    if a < len(pts) and b < len(pts) and ok[a] and ok[b]:
                        cv2.line(img, (int(pts[a][0]), int(pts[a][1])),
                                 (int(pts[b][0]), int(pts[b][1])), (255, 200, 0), 1,
                                 cv2.LINE_AA)
                for j in np.nonzero(ok)[0]:
                    cv2.circle(img, (int(pts[j][0]), int(pts[j][1])), 2, (0, 0, 255), -1)
        return img

    def _paint_parts(self, img: np.ndarray, labels: Optional[np.ndarray], box) -> None:
        """Blend the part colours of a chart into ``img`` in place. The chart
        covers ``labels.shape`` pixels from ``(int(x0), int(y0))`` (the
        DensePose results convention); a chart of another size is resized
        (nearest) to the box."""
        if labels is None or labels.size == 0:
            return
        h, w = img.shape[:2]
        x0, y0 = int(box[0]), int(box[1])
        bh = max(int(box[3] - box[1]), 1)
        bw = max(int(box[2] - box[0]), 1)
        if labels.shape != (bh, bw):
            labels = cv2.resize(labels, (bw, bh), interpolation=cv2.INTER_NEAREST)
        # the part of the chart inside the canvas
        cx0, cy0 = max(-x0, 0), max(-y0, 0)
        cx1, cy1 = min(bw, w - x0), min(bh, h - y0)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        lab = labels[cy0:cy1, cx0:cx1]
        mask = lab > 0
        if not mask.any():
            return
        roi = img[y0 + cy0:y0 + cy1, x0 + cx0:x0 + cx1]
        color = cv2.LUT(cv2.merge((lab, lab, lab)), self.lut)
        blend = cv2.addWeighted(roi, 1 - self.alpha, color, self.alpha, 0)
        np.copyto(roi, blend, where=mask[..., None])


def status_lines(counts: Dict[str, int], fps: float, latency_ms: float, frame: int,
                 stalled: bool) -> List[str]:
    """Short status text: rate, latency and every non-zero problem counter."""
    lines = [f'frame {frame}  {fps:.1f} fps  latency {latency_ms:.0f} ms']
    if stalled:
        lines.append('SOURCE STALLED')
    problems = [f'{k} {v}' for k, v in sorted(counts.items())
                if v and k not in ('packets', 'frames', 'stalled_now', 'resumed')]
    if problems:
        lines.append(', '.join(problems))
    return lines


def put_status(img: np.ndarray, lines: List[str]) -> np.ndarray:
    """Write the status lines on the top of the drawing."""
    for k, text in enumerate(lines):
        y = 12 + 12 * k
        color = (0, 0, 255) if text == 'SOURCE STALLED' else (255, 255, 255)
        cv2.putText(img, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 2,
                    cv2.LINE_AA)
        cv2.putText(img, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.35, color, 1, cv2.LINE_AA)
    return img


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>WiFi DensePose live</title>
<style>body{font-family:sans-serif;background:#111;color:#eee}td{padding:0 8px}
#stall{color:#f44;font-weight:bold}</style></head><body>
<h3>WiFi DensePose live: <span id="src"></span></h3>
<img id="view" src="/stream.mjpg" style="width:640px;image-rendering:pixelated">
<p id="stall"></p><table id="counts"></table>
<script>
async function tick(){try{const r=await fetch('/stats.json');const s=await r.json();
document.getElementById('src').textContent=s.source;
document.getElementById('stall').textContent=s.stalled?'SOURCE STALLED':'';
let h='';for(const [k,v] of Object.entries(s.counts))
  h+='<tr><td>'+k+'</td><td id="c_'+k+'">'+v+'</td></tr>';
h+='<tr><td>frames drawn</td><td id="drawn">'+s.drawn+'</td></tr>';
h+='<tr><td>frames/s</td><td>'+s.fps.toFixed(1)+'</td></tr>';
h+='<tr><td>median latency (ms)</td><td>'+s.latency_ms.toFixed(0)+'</td></tr>';
document.getElementById('counts').innerHTML=h;}catch(e){}}
setInterval(tick,500);tick();</script></body></html>"""


class LiveServer:
    """MJPEG stream + status page over HTTP (``/``, ``/stream.mjpg``,
    ``/frame.jpg``, ``/stats.json``)."""

    def __init__(self, host: str, port: int) -> None:
        self.jpeg: Optional[bytes] = None
        self.stats: dict = {}
        self.cond = threading.Condition()
        self.closed = False
        server = self

        class Handler(BaseHTTPRequestHandler):

            def log_message(self, *args) -> None:  # keep the console for the figures
                pass

            def _send(self, body: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header('Content-Type', ctype)
                self.send_header('Content-Length', str(len(body)))
                self.send_header('Cache-Control', 'no-cache')
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path in ('/', '/index.html'):
                    self._send(_PAGE.encode(), 'text/html; charset=utf-8')
                elif self.path == '/stats.json':
                    self._send(json.dumps(server.stats).encode(), 'application/json')
                elif self.path == '/frame.jpg':
                    with server.cond:
                        body = server.jpeg
                    if body is None:
                        self.send_error(503, 'no frame drawn yet')
                    else:
                        self._send(body, 'image/jpeg')
                elif self.path == '/stream.mjpg':
                    self.send_response(200)
                    self.send_header('Content-Type', 'multipart/x-mixed-replace; boundary=frame')
                    self.send_header('Cache-Control', 'no-cache')
                    self.end_headers()
                    last = None
                    try:
                        while not server.closed:
                            with server.cond:
                                server.cond.wait_for(
                                    lambda: server.closed or server.jpeg is not last, 1.0)
                                body = server.jpeg
                            if body is None or body is last:
                                continue
                            last = body
                            self.wfile.write(b'--frame\r\nContent-Type: image/jpeg\r\n'
                                             b'Content-Length: ' + str(len(body)).encode() +
                                             b'\r\n\r\n' + body + b'\r\n')
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                else:
                    self.send_error(404)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, img_bgr: np.ndarray, stats: dict, quality: int = 70) -> None:
        ok, buf = cv2.imencode('.jpg', img_bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        with self.cond:
            if ok:
                self.jpeg = buf.tobytes()
            self.stats = stats
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()


class Inference:
    """Model workers: queued frames -> ``(frame, detections, model seconds,
    model CPU seconds)``, handed out in frame order.

    Each worker runs its own :class:`LiveStudent` (a :meth:`LiveStudent.clone`
    for every worker after the first) and takes the oldest queued frame
    when it is free, so with two workers the model runs frames ``t`` and
    ``t + 1`` at once on two cores (PyTorch releases the GIL in its
    kernels) while the main thread draws frame ``t - 1``. At most two
    results per worker wait for the drawing.

    Args:
        students (list[LiveStudent]): One per worker.
        stream (LiveCSIStream): The frame source (``get``, ``finished``).
    """

    def __init__(self, students: List[LiveStudent], stream: LiveCSIStream) -> None:
        if not students:
            raise ValueError('Inference needs at least one student')
        self.students, self.stream = list(students), stream
        self.ready: Dict[int, tuple] = {}
        self.taken = 0  # frames given a sequence number
        self.given = 0  # results handed out
        self.running = 0
        self.take_lock = threading.Lock()
        self.cond = threading.Condition()
        self.stop_event = threading.Event()
        self.error: Optional[BaseException] = None
        self.threads = [
            threading.Thread(target=self._run, args=(st, ), name=f'csi-model-{i}', daemon=True)
            for i, st in enumerate(self.students)
        ]

    @property
    def thread(self) -> threading.Thread:
        """The first worker's thread."""
        return self.threads[0]

    def start(self) -> 'Inference':
        self.running = len(self.threads)
        for t in self.threads:
            t.start()
        return self

    def _take(self):
        """(sequence number, frame) of the next queued frame, or None."""
        with self.cond:  # backpressure: the drawing is behind
            if not self.cond.wait_for(lambda: len(self.ready) < 2 * len(self.students) or
                                      self.stop_event.is_set(), 0.1):
                return None
        with self.take_lock:
            frame = self.stream.get(0.05)
            if frame is None:
                return None
            seq, self.taken = self.taken, self.taken + 1
            return seq, frame

    def _run(self, student: LiveStudent) -> None:
        try:
            while not self.stop_event.is_set():
                item = self._take()
                if item is None:
                    if self.stream.finished:
                        break
                    continue
                seq, frame = item
                t0, c0 = time.perf_counter(), time.thread_time()
                pred = student(frame.amplitude, frame.phase, frame.index + 1)
                result = (frame, pred, time.perf_counter() - t0, time.thread_time() - c0)
                with self.cond:
                    self.ready[seq] = result
                    self.cond.notify_all()
        except BaseException as err:
            self.error = err
            self.stop_event.set()
        finally:
            with self.cond:
                self.running -= 1
                self.cond.notify_all()

    @property
    def done(self) -> bool:
        """Every worker stopped and every result was handed out."""
        with self.cond:
            return self.running == 0 and self.given not in self.ready

    def get(self, timeout: float = 0.1):
        """The next result in frame order, or None after ``timeout``."""
        with self.cond:
            if self.given not in self.ready and self.running:
                self.cond.wait_for(lambda: self.given in self.ready or not self.running,
                                   timeout)
            item = self.ready.pop(self.given, None)
            if item is not None:
                self.given += 1
                self.cond.notify_all()
            return item

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        with self.cond:
            self.cond.notify_all()
        for t in self.threads:
            if t.is_alive():
                t.join(timeout)


def median_fps(times: List[float], width: float = 1.0) -> Optional[float]:
    """Median frames/s over the complete ``width``-second windows of a run
    (``times``: drawing times in seconds); None for a run shorter than one
    window."""
    if len(times) < 2:
        return None
    t = np.asarray(times, np.float64) - times[0]
    full = int(t[-1] // width)
    if full < 1:
        return None
    counts = np.bincount((t // width).astype(np.int64), minlength=full + 1)[:full]
    return float(np.median(counts)) / width


class OutputWriter:
    """Drawn frames to a video file or a folder of images."""

    def __init__(self, path: str, fps: float, fourcc: str = 'mp4v') -> None:
        self.path, self.fps, self.fourcc = path, fps, fourcc
        self.video = path.lower().endswith(('.mp4', '.avi'))
        self.writer = None
        self.count = 0
        if not self.video:
            os.makedirs(path, exist_ok=True)

    def write(self, img: np.ndarray, index: int) -> None:
        if self.video:
            if self.writer is None:
                os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
                self.writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*self.fourcc),
                                              self.fps, (img.shape[1], img.shape[0]))
                if not self.writer.isOpened():
                    raise OSError(f'cannot write video file {self.path} ({self.fourcc})')
            self.writer.write(img)
        else:
            name = osp.join(self.path, f'frame_{index:06d}.jpg')
            if not cv2.imwrite(name, img):
                raise OSError(f'cannot write {name}')
        self.count += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


def build_live(args: Namespace):
    """(model, config, LiveStudent, layout) for the command line."""
    cfg = wifi_student_config(args.config, args.cfg_options)
    checkpoint = None if args.checkpoint in ('none', 'random') else args.checkpoint
    model = init_model(cfg, checkpoint, device=args.device,
                       inference_dtype=args.inference_dtype)
    if getattr(args, 'channels_last', False):
        from mmdensekd.models.layers import optimize_for_inference
        optimize_for_inference(model, fuse_bn=True, channels_last=True,
                               fast_roi_align=args.inference_dtype is not None)
    student = LiveStudent(model, cfg, args.score_thr, args.proposals,
                          getattr(args, 'decoding', 'exact'))
    layout = parse_layout(args.layout) if args.layout else layout_from_shape(student.amp_shape)
    if layout.shape != student.amp_shape:
        raise ValueError(f'--layout {layout.name} gives {layout.shape} but the MTN takes '
                         f'{student.amp_shape}')
    return model, cfg, student, layout


def warm_up(student: LiveStudent, seed: int = 0) -> None:
    """One untimed frame of noise: lazy set-up (CSI statistics, bf16
    calibration, kernel selection) happens here, not on the first live
    frame nor in two workers at once."""
    rng = np.random.RandomState(seed)
    shape = tuple(student.amp_shape)
    student(rng.rand(*shape).astype(np.float32),
            (rng.rand(*shape).astype(np.float32) - 0.5) * 6.0, 0)


def make_workers(student: LiveStudent, workers: int) -> List[LiveStudent]:
    """``workers`` students: ``student`` (warmed up) and clones of it."""
    if workers < 1:
        raise ValueError(f'--workers must be at least 1, got {workers}')
    warm_up(student)
    students = [student]
    for _ in range(workers - 1):
        students.append(student.clone())
        warm_up(students[-1])
    return students


def idle_fps(summary: dict, cores: Optional[int] = None) -> Optional[float]:
    """Frames/s the measured CPU times allow on ``cores`` idle cores (default:
    this machine's, at most the workers + 1 threads that work): every core
    busy with model, drawing and source work, and no worker faster than its
    own model time per frame. A bound from CPU time, which other processes
    on a shared machine inflate far less than wall-clock time."""
    model, draw = summary.get('model_cpu_ms'), summary.get('draw_cpu_ms')
    if not model:
        return None
    workers = summary.get('workers', 1)
    cores = cores or min(os.cpu_count() or 1, workers + 1)
    per_frame = model + (draw or 0.0) + (summary.get('source_cpu_ms') or 0.0)
    return min(1000.0 * cores / per_frame, 1000.0 * workers / model)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the live demo; returns a summary (frames, fps, latency, CPU time
    per frame, counters)."""
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    # the drawing is a few small OpenCV calls: a thread pool would only add
    # waiting threads next to the model workers
    cv2.setNumThreads(1)
    if args.show and not os.environ.get('DISPLAY') and sys.platform.startswith('linux'):
        raise RuntimeError('--show needs a display (DISPLAY is not set); use --serve PORT for '
                           'a headless box')
    model, cfg, student, layout = build_live(args)
    if args.draw == 'full':
        from image_demo import build_visualizer
        visualizer = build_visualizer(args, model)
        blank = np.zeros(student.canvas_shape + (3, ), np.uint8)

        def paint(pred):
            return cv2.cvtColor(visualizer.draw_instances(blank, pred, score_thr=args.score_thr),
                                cv2.COLOR_RGB2BGR)
    else:
        paint = FastPainter(student.canvas_shape, args.score_thr, args.kpt_thr, args.alpha,
                            not args.no_bbox, not args.no_keypoints, args.vis_mode != 'none')
    students = make_workers(student, args.workers)
    settings = ', '.join(f'{k}: {v}' for k, v in student.changed.items())
    print(f'{len(students)} model worker(s), {torch.get_num_threads()} torch thread(s) each, '
          f'decoding {student.decoding}' + (f' ({settings})' if settings else ''), flush=True)
    source = open_source(args.source, args.format, args.chip)
    windower = StreamWindower(layout, fps=args.rate, window=args.window,
                              min_packets=args.min_packets, source=source.name,
                              amplitude=args.amplitude)
    stream = LiveCSIStream(source, windower, stall_timeout=args.stall_timeout)
    server = LiveServer(args.host, args.serve) if args.serve is not None else None
    if server is not None:
        print(f'live page: http://{args.host}:{server.port}/', flush=True)
    writer = None
    infer = Inference(students, stream)
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, lambda *a: stop.set())
    latencies: List[float] = []
    model_times: List[float] = []
    model_cpu: List[float] = []
    draw_cpu: List[float] = []
    drawn_at: List[float] = []
    drawn, start, last_print, window_start, window_count = 0, time.perf_counter(), 0.0, 0.0, 0
    cpu_start = time.process_time()
    fps_now = 0.0
    stream.start()
    infer.start()
    try:
        while not stop.is_set():
            item = infer.get(0.1)
            now = time.perf_counter()
            if item is None:
                if infer.done:
                    break
                if server is not None and stream.stalled:  # keep the page's counters live
                    server.stats = dict(server.stats, stalled=True, counts=stream.counters())
            else:
                frame, pred, model_s, model_c = item
                c0 = time.thread_time()
                img = paint(pred)
                drawn += 1
                now = time.perf_counter()
                drawn_at.append(now)
                latencies.append(now - frame.arrival)
                model_times.append(model_s)
                model_cpu.append(model_c)
                if now - window_start >= 1.0:
                    fps_now = (drawn - window_count) / max(now - window_start, 1e-9) \
                        if window_start else drawn / max(now - start, 1e-9)
                    window_start, window_count = now, drawn
                lat_ms = 1000 * float(np.median(latencies[-50:]))
                counts = stream.counters()
                put_status(img, status_lines(counts, fps_now, lat_ms, frame.index + 1,
                                             stream.stalled))
                if server is not None:
                    server.publish(img, dict(source=source.name, drawn=drawn, fps=fps_now,
                                             latency_ms=lat_ms, frame=frame.index + 1,
                                             stalled=stream.stalled, counts=counts),
                                   args.jpeg_quality)
                if args.out:
                    if writer is None:
                        writer = OutputWriter(args.out, args.rate or windower.fps or 10.0,
                                              args.fourcc)
                    writer.write(img, frame.index + 1)
                if args.show:
                    cv2.imshow('WiFi DensePose live', img)
                    if cv2.waitKey(1) & 0xFF in (27, ord('q')):
                        break
                draw_cpu.append(time.thread_time() - c0)
            if now - last_print >= 1.0 and drawn:
                last_print = now
                print(f'{drawn} frames, {fps_now:.1f} frames/s, latency median '
                      f'{1000 * np.median(latencies[-50:]):.0f} ms, model '
                      f'{1000 * np.median(model_times[-50:]):.0f} ms '
                      f'(CPU {1000 * np.median(model_cpu[-50:]):.0f} ms), drawing CPU '
                      f'{1000 * np.median(draw_cpu[-50:] or [0]):.1f} ms; '
                      + '; '.join(status_lines(stream.counters(), fps_now, 0, 0,
                                               stream.stalled)[1:]), flush=True)
            if 0 <= args.max_frames <= drawn or \
                    (args.duration >= 0 and now - start >= args.duration):
                break
    except KeyboardInterrupt:
        pass
    finally:
        infer.stop()
        stream.stop()
        if writer is not None:
            writer.close()
        if server is not None:
            server.close()
        if args.show:
            cv2.destroyAllWindows()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)
    for err in (stream.error, infer.error):
        if err is not None:
            raise RuntimeError(f'live demo stopped: {err}') from err
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start

    def med_ms(values):
        return 1000 * float(np.median(values)) if values else None

    counts = stream.counters()
    windowed = counts.get('frames', 0)
    summary = dict(frames=drawn, seconds=elapsed, fps=drawn / elapsed if elapsed else 0.0,
                   fps_median=median_fps(drawn_at), latency_ms=med_ms(latencies),
                   model_ms=med_ms(model_times), model_cpu_ms=med_ms(model_cpu),
                   draw_cpu_ms=med_ms(draw_cpu),
                   source_cpu_ms=1000 * stream.cpu_seconds / windowed if windowed else None,
                   cpu_ms_per_frame=1000 * cpu / drawn if drawn else None,
                   workers=len(students), decoding=student.decoding, counts=counts,
                   out=args.out)
    summary['idle_fps'] = idle_fps(summary)
    fps_med = summary['fps_median']
    print(f'stopped: {drawn} frames in {elapsed:.1f} s ({summary["fps"]:.1f} frames/s'
          + (f', median {fps_med:.1f} per second' if fps_med is not None else '')
          + f'), median latency {summary["latency_ms"] or 0:.0f} ms; CPU per frame: model '
          f'{summary["model_cpu_ms"] or 0:.1f} ms, drawing {summary["draw_cpu_ms"] or 0:.1f} ms, '
          f'source {summary["source_cpu_ms"] or 0:.1f} ms (-> at most '
          f'{summary["idle_fps"] or 0:.1f} frames/s on idle cores); counters {counts}',
          flush=True)
    return summary


if __name__ == '__main__':
    cli(entry=main, name='wifi_live_demo.py')
