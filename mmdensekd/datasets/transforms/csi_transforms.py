# Copyright (c) mmdensekd contributors. All rights reserved.
"""WiFi channel state information (CSI) transforms.

Pipeline for a paired (camera frame, CSI) sample::

    LoadCSIFromFile -> CSIPhaseSanitize -> PackCSI -> ... -> PackDensePoseInputs

Normalisation is NOT done here: ``PairedDataPreprocessor`` normalises the
stacked CSI tensor with the statistics stored in the dataset's meta file
(``csi_stats_file``; :mod:`mmdensekd.datasets.csi_stats`), just as the image
is normalised by the data preprocessor and not by a transform.

Shape legend: ``S`` the per-sample CSI shape, e.g. ``(3, 114, 10)`` =
(antenna, subcarrier, packet) for MM-Fi, ``(150, 3, 3)`` =
(packet x subcarrier, tx, rx) for Person-in-WiFi / WiSPPN.
"""
import io
from typing import Optional, Sequence, Tuple

import numpy as np
import scipy.io
from mmcv.transforms import BaseTransform
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.fileio import get
from mmengine.logging import print_log
from scipy import ndimage

from mmdensekd.registry import TRANSFORMS
from mmdensekd.structures.csi_layout import parse_layout

#: ``CSIPhaseSanitize``'s packet axis when neither it nor a layout is given.
_DEFAULT = object()

#: The 8-byte HDF5 signature. MATLAB v7.3 files are HDF5 files with a
#: 512-byte user block, so the signature sits at offset 512 there.
HDF5_SIGNATURE = b'\x89HDF\r\n\x1a\n'


def _is_hdf5(buffer: bytes) -> bool:
    """Whether ``buffer`` holds an HDF5 (e.g. MATLAB v7.3) file."""
    return any(buffer[off:off + 8] == HDF5_SIGNATURE for off in (0, 512, 1024, 2048))


#: COCO-17 keypoint order as indices into OpenPose's 18 body joints (nose,
#: neck, R/L shoulder-elbow-wrist, R/L hip-knee-ankle, R/L eye, R/L ear).
OPENPOSE18_TO_COCO17 = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)


def _frame_to_bgr(frame: np.ndarray, path: str, key: str) -> np.ndarray:
    """A stored RGB camera frame ((H, W, 3) or (3, H, W)) as a uint8 BGR image."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[-1] != 3 and frame.shape[0] == 3:
        frame = frame.transpose(1, 2, 0)
    if frame.ndim != 3 or frame.shape[-1] != 3 or 0 in frame.shape:
        raise ValueError(f'CSI file {path}: frame {key!r} has shape {frame.shape}, expected '
                         '(H, W, 3) or (3, H, W)')
    if frame.dtype != np.uint8:
        frame = np.asarray(frame, np.float64)
        if not np.isfinite(frame).all():
            raise ValueError(f'CSI file {path}: frame {key!r} holds NaN/inf values')
        frame = np.clip(frame * (255.0 if frame.max() <= 1.0 else 1.0), 0, 255).round()
    return np.ascontiguousarray(frame.astype(np.uint8)[..., ::-1])


def _openpose_joints(vector: np.ndarray, path: str, key: str, scale: float) -> np.ndarray:
    """(18, 3) OpenPose joints ``x, y, confidence`` from a WiSPPN-style vector.

    WiSPPN's ``jointsVector`` holds 72 values: 18 x, 18 y, then the 18
    confidences twice (measured on the real sample).
    """
    vector = np.asarray(vector, np.float64).reshape(-1)
    if vector.size not in (54, 72):
        raise ValueError(f'CSI file {path}: joints {key!r} has {vector.size} values, expected '
                         '72 (x, y, confidence x 2 for 18 OpenPose joints) or 54')
    if not np.isfinite(vector).all():
        raise ValueError(f'CSI file {path}: joints {key!r} hold NaN/inf values')
    joints = vector[:54].reshape(3, 18).T.copy()
    joints[:, :2] *= scale
    return joints


def _optional_shape(value: Optional[Sequence[int]], key: str) -> Optional[Tuple[int, ...]]:
    if value is None:
        return None
    if not isinstance(value, Sequence) or len(value) == 0:
        raise TypeError(f'`{key}` must be None or a sequence of ints, got {value!r}')
    return tuple(int(v) for v in value)


@TRANSFORMS.register_module()
class LoadCSIFromFile(BaseTransform):
    """Load CSI amplitude and phase from a MATLAB ``.mat`` file.

    MAT v5 files (e.g. MM-Fi frames with ``CSIamp`` / ``CSIphase``) are read
    with ``scipy.io.loadmat``; MAT v7.3 files (HDF5, e.g. WiSPPN's
    ``csi_serial``) with h5py. h5py returns arrays with the axes in reverse
    order with respect to MATLAB (HDF5 is row-major, MATLAB column-major);
    with ``hdf5_transpose=True`` (default) the axes are reversed back so both
    kinds of file give MATLAB's order. Example: WiSPPN's ``csi_serial`` is
    ``(3, 3, 30, 5)`` through h5py and ``(5, 30, 3, 3)`` (packet, subcarrier,
    tx, rx) in MATLAB order; ``reshape=(150, 3, 3)`` then gives the
    Person-in-WiFi layout (index ``packet * 30 + subcarrier``).

    A complex amplitude array (MATLAB complex data) gives ``abs`` as the
    amplitude and, when no phase key is set, ``angle`` as the phase.

    Required keys: ``csi_path``. Added keys: ``csi_amplitude`` and
    ``csi_phase`` (float32 arrays of shape ``S``), ``csi_shape``.

    Args:
        amp_key (str): Variable name of the amplitude. Defaults to 'CSIamp'.
        phase_key (str, optional): Variable name of the phase; ``None`` for
            amplitude-only files. Defaults to 'CSIphase'.
        expected_shape (Sequence[int], optional): Required shape ``S`` after
            ``reshape``; ``None`` accepts any shape (amplitude and phase must
            still agree).
        hdf5_transpose (bool): Reverse the axes of arrays read with h5py to
            MATLAB order. Defaults to True.
        reshape (Sequence[int], optional): Reshape (C order) both arrays to
            this shape after loading. Defaults to None.
        missing_phase (str): ``'error'`` raises when the phase is absent;
            ``'zeros'`` uses a zero phase and logs a warning (counted in
            ``num_missing_phase``). Defaults to 'error'.
        nonfinite (str): ``'error'`` raises on NaN/inf values; ``'zero'``
            replaces them by 0 and logs a warning (counted in
            ``num_nonfinite``). Defaults to 'error'.
        frame_key (str, optional): Variable holding the synchronised RGB
            camera frame of a paired file (WiSPPN: ``'frame'``, (H, W, 3) in
            MATLAB order). When set, ``img`` (uint8 BGR, as mmcv loads
            images), ``img_shape``, ``ori_shape`` and, if absent,
            ``img_path`` (= ``csi_path``) are added. Defaults to None.
        joints_key (str, optional): Variable holding OpenPose-18 joints
            (WiSPPN: ``'jointsVector'``). When set, ``openpose_joints``
            (18, 3) ``x, y, confidence``, COCO-17 ``gt_keypoints`` (1, 17, 2)
            and ``gt_keypoints_visible`` (1, 17) (confidence > 0), and the
            person's ``gt_bboxes`` (visible joints' extent plus 10%),
            ``gt_bboxes_labels`` and ``gt_ignore_flags`` are added.
            Defaults to None.
        joints_scale (float): Factor from joint to frame pixels. WiSPPN's
            joints are in the 1280x720 camera frame while its stored frame is
            640x360, so WiSPPN needs 0.5. Defaults to 1.0.
        backend_args (dict, optional): mmengine file backend arguments.
        layout (str | dict, optional): A CSI layout
            (:func:`~mmdensekd.structures.csi_layout.parse_layout`, e.g.
            ``'person-in-wifi'``): ``expected_shape`` is its shape.
    """

    def __init__(self,
                 amp_key: str = 'CSIamp',
                 phase_key: Optional[str] = 'CSIphase',
                 expected_shape: Optional[Sequence[int]] = None,
                 hdf5_transpose: bool = True,
                 reshape: Optional[Sequence[int]] = None,
                 missing_phase: str = 'error',
                 nonfinite: str = 'error',
                 frame_key: Optional[str] = None,
                 joints_key: Optional[str] = None,
                 joints_scale: float = 1.0,
                 backend_args: Optional[dict] = None,
                 layout=None) -> None:
        if layout is not None:
            shape = tuple(parse_layout(layout).shape)
            if expected_shape is not None and tuple(expected_shape) != shape:
                raise ValueError(f'LoadCSIFromFile: expected_shape {tuple(expected_shape)} '
                                 f'disagrees with layout {layout!r} {shape}')
            expected_shape = shape
        if not isinstance(amp_key, str):
            raise TypeError(f'`amp_key` must be a str, got {amp_key!r}')
        if missing_phase not in ('error', 'zeros'):
            raise ValueError(f"`missing_phase` must be 'error' or 'zeros', got {missing_phase!r}")
        if nonfinite not in ('error', 'zero'):
            raise ValueError(f"`nonfinite` must be 'error' or 'zero', got {nonfinite!r}")
        self.amp_key = amp_key
        self.phase_key = phase_key
        self.expected_shape = _optional_shape(expected_shape, 'expected_shape')
        self.reshape = _optional_shape(reshape, 'reshape')
        self.hdf5_transpose = hdf5_transpose
        self.missing_phase = missing_phase
        self.nonfinite = nonfinite
        self.frame_key = frame_key
        self.joints_key = joints_key
        self.joints_scale = float(joints_scale)
        self.backend_args = backend_args
        self.num_missing_phase = 0
        self.num_nonfinite = 0

    def _read_variables(self, path: str) -> dict:
        """Read the amplitude/phase variables of ``path`` into a dict."""
        try:
            buffer = get(path, backend_args=self.backend_args)
        except Exception as err:
            raise ValueError(f'Cannot read CSI file {path}: {err}') from err
        wanted = [k for k in (self.amp_key, self.phase_key, self.frame_key, self.joints_key)
                  if k is not None]
        if not _is_hdf5(buffer):
            try:
                mat = scipy.io.loadmat(io.BytesIO(buffer), variable_names=wanted)
                return {k: np.asarray(mat[k]) for k in wanted if k in mat}
            except NotImplementedError:
                pass  # v7.3 without a recognised signature: try HDF5
            except Exception as err:
                raise ValueError(f'Cannot read CSI file {path} as a .mat file: {err}') from err
        try:
            import h5py
            with h5py.File(io.BytesIO(buffer), 'r') as f:
                out = {}
                for k in wanted:
                    if k in f and isinstance(f[k], h5py.Dataset):
                        arr = f[k][()]
                        if arr.dtype.names is not None and {'real', 'imag'} <= set(
                                arr.dtype.names):
                            arr = arr['real'] + 1j * arr['imag']
                        out[k] = arr.transpose() if self.hdf5_transpose else arr
                return out
        except Exception as err:
            raise ValueError(f'Cannot read CSI file {path} as a MAT v7.3 (HDF5) file: '
                             f'{err}') from err

    def _finite(self, arr: np.ndarray, name: str, path: str) -> np.ndarray:
        bad = ~np.isfinite(arr)
        if bad.any():
            if self.nonfinite == 'error':
                raise ValueError(f'CSI file {path}: {name} holds {int(bad.sum())} NaN/inf '
                                 'values')
            self.num_nonfinite += 1
            print_log(f'CSI file {path}: replaced {int(bad.sum())} NaN/inf {name} values by 0 '
                      f'({self.num_nonfinite} files so far)', logger='current', level=30)
            arr = np.where(bad, 0, arr)
        return arr

    def _shape(self, arr: np.ndarray, name: str, path: str) -> np.ndarray:
        if self.reshape is not None:
            if arr.size != int(np.prod(self.reshape)):
                raise ValueError(f'CSI file {path}: cannot reshape {name} of shape '
                                 f'{arr.shape} to {self.reshape}')
            arr = arr.reshape(self.reshape)
        if self.expected_shape is not None and arr.shape != self.expected_shape:
            raise ValueError(f'CSI file {path}: {name} has shape {arr.shape}, expected '
                             f'{self.expected_shape}')
        return arr

    def transform(self, results: dict) -> dict:
        """Load the CSI of ``results['csi_path']``.

        Args:
            results (dict): Result dict with ``csi_path``.

        Returns:
            dict: ``results`` with ``csi_amplitude``, ``csi_phase`` (S,) float32
            and ``csi_shape``.
        """
        if 'csi_path' not in results:
            raise KeyError('LoadCSIFromFile needs results["csi_path"]')
        path = str(results['csi_path'])
        variables = self._read_variables(path)
        if self.amp_key not in variables:
            raise ValueError(f'CSI file {path} has no variable {self.amp_key!r} (amp_key)')
        amp = variables[self.amp_key]
        phase = variables.get(self.phase_key) if self.phase_key is not None else None
        if np.iscomplexobj(amp):
            if phase is None:
                phase = np.angle(amp)
            amp = np.abs(amp)
        if phase is None:
            if self.missing_phase == 'error':
                raise ValueError(f'CSI file {path} has no phase variable {self.phase_key!r} '
                                 "(phase_key); set missing_phase='zeros' to use a zero phase")
            self.num_missing_phase += 1
            if self.num_missing_phase == 1:
                print_log(f'CSI file {path} has no phase ({self.phase_key!r}); using zeros '
                          '(missing_phase="zeros"). Further files are counted in '
                          'LoadCSIFromFile.num_missing_phase', logger='current', level=30)
            phase = np.zeros_like(amp)
        if not (np.issubdtype(amp.dtype, np.number) and np.issubdtype(phase.dtype, np.number)):
            raise ValueError(f'CSI file {path}: amplitude/phase are not numeric arrays '
                             f'({amp.dtype}, {phase.dtype})')
        amp = self._shape(self._finite(amp.astype(np.float64), 'amplitude', path), 'amplitude',
                          path)
        phase = self._shape(self._finite(np.real(phase).astype(np.float64), 'phase', path),
                            'phase', path)
        if amp.shape != phase.shape:
            raise ValueError(f'CSI file {path}: amplitude shape {amp.shape} differs from '
                             f'phase shape {phase.shape}')
        results['csi_amplitude'] = amp.astype(np.float32)
        results['csi_phase'] = phase.astype(np.float32)
        results['csi_shape'] = amp.shape
        for key in (self.frame_key, self.joints_key):
            if key is not None and key not in variables:
                raise ValueError(f'CSI file {path} has no variable {key!r} (paired sample)')
        if self.frame_key is not None:
            img = _frame_to_bgr(variables[self.frame_key], path, self.frame_key)
            results['img'] = img
            results['img_shape'] = results['ori_shape'] = img.shape[:2]
            results.setdefault('img_path', path)
        if self.joints_key is not None:
            self._add_joints(results, variables[self.joints_key], path)
        return results

    def _add_joints(self, results: dict, vector: np.ndarray, path: str) -> None:
        joints = _openpose_joints(vector, path, self.joints_key, self.joints_scale)
        coco = joints[list(OPENPOSE18_TO_COCO17)]
        visible = coco[:, 2] > 0
        results['openpose_joints'] = joints.astype(np.float32)
        results['gt_keypoints'] = coco[None, :, :2].astype(np.float32)
        results['gt_keypoints_visible'] = visible[None].astype(np.float32)
        pts = joints[joints[:, 2] > 0, :2]
        if len(pts) == 0:
            raise ValueError(f'CSI file {path}: no joint of {self.joints_key!r} has a positive '
                             'confidence')
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        mx, my = 0.1 * max(x1 - x0, 1.0), 0.1 * max(y1 - y0, 1.0)
        box = np.array([[x0 - mx, y0 - my, x1 + mx, y1 + my]], np.float32)
        if 'img_shape' in results:
            h, w = results['img_shape'][:2]
            box = np.clip(box, 0, [w, h, w, h]).astype(np.float32)
        results['gt_bboxes'] = HorizontalBoxes(box)
        results['gt_bboxes_labels'] = np.zeros(1, np.int64)
        results['gt_ignore_flags'] = np.zeros(1, bool)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(amp_key={self.amp_key!r}, '
                f'phase_key={self.phase_key!r}, expected_shape={self.expected_shape}, '
                f'hdf5_transpose={self.hdf5_transpose}, reshape={self.reshape}, '
                f'missing_phase={self.missing_phase!r}, nonfinite={self.nonfinite!r}, '
                f'frame_key={self.frame_key!r}, joints_key={self.joints_key!r}, '
                f'joints_scale={self.joints_scale})')


def _filter_sizes(value, key: str) -> Tuple[int, int]:
    """(frequency, time) window sizes; each odd and >= 1."""
    sizes = (value, value) if isinstance(value, int) else tuple(value)
    if len(sizes) != 2 or any((not isinstance(s, int)) or s < 1 or s % 2 == 0 for s in sizes):
        raise ValueError(f'`{key}` must be an odd int >= 1 or a pair of them '
                         f'(frequency, time), got {value!r}')
    return sizes


def _smooth(x: np.ndarray, sizes: dict, filt) -> np.ndarray:
    """Apply ``filt`` (a scipy.ndimage filter) with windows ``{axis: size}``.

    The array is padded by point reflection about its edge samples
    (``2 * x[0] - x[k]``), which continues any linear trend, so a linear
    ramp passes through the median and uniform filters unchanged.
    """
    size = [1] * x.ndim
    pad = [(0, 0)] * x.ndim
    for axis, k in sizes.items():
        if k > 1 and x.shape[axis] > 1:
            size[axis] = k
            pad[axis] = (k // 2, k // 2)
    if all(s == 1 for s in size):
        return x
    padded = np.pad(x, pad, mode='reflect', reflect_type='odd')
    out = filt(padded, size=size, mode='nearest')
    return out[tuple(slice(p[0], p[0] + n) for p, n in zip(pad, x.shape))]


@TRANSFORMS.register_module()
class CSIPhaseSanitize(BaseTransform):
    """Sanitise raw CSI phase (DensePose From WiFi, section 3.1).

    Steps, per antenna (and packet) along the subcarrier axis:

    1. unwrap along subcarriers (``np.unwrap``);
    2. median filter, then uniform (mean) filter over frequency and time
       (``scipy.ndimage``; windows odd, edges padded by point reflection so
       linear trends are kept);
    3. remove the linear fit ``a1 * x_f + a0`` with
       ``a1 = (phi_F - phi_1) / (2 * pi * F)`` and ``a0 = mean_f(phi_f)``.

    Index convention: subcarriers are ``f = 1 .. F`` and the frequency
    coordinate paired with ``a1`` is ``x_f = 2 * pi * F * (f - (F + 1) / 2)
    / (F - 1)``: it spans ``2 * pi * F`` from the first to the last
    subcarrier (the units of ``a1``'s denominator) and is centred
    (``sum_f x_f = 0``), so ``a0 = mean(phi)`` is the intercept. Hence
    ``phi_f = s * f + c`` is removed exactly: ``phi_hat_f = 0``.

    Required/modified keys: ``csi_phase`` (``S`` float32).

    Args:
        subcarrier_axis (int, optional): Subcarrier axis of the per-sample
            phase (of ``view_shape`` if given). Defaults to 1 (MM-Fi).
        packet_axis (int, optional): Packet (time) axis, or None to filter
            over frequency only. Defaults to 2 (MM-Fi).
        median_size (int | Sequence[int]): Odd median window (frequency,
            time); 1 disables. Defaults to 3.
        uniform_size (int | Sequence[int]): Odd uniform window (frequency,
            time); 1 disables. Defaults to 3.
        unwrap (bool): Unwrap along subcarriers first. Defaults to True.
        view_shape (Sequence[int], optional): Reshape the phase to this
            shape while sanitising (e.g. ``(5, 30, 3, 3)`` for the
            Person-in-WiFi ``(150, 3, 3)`` layout, with
            ``subcarrier_axis=1, packet_axis=0``). Defaults to None.
        layout (str | dict, optional): A CSI layout
            (:func:`~mmdensekd.structures.csi_layout.parse_layout`) whose
            ``sanitize_kwargs()`` give the three arguments above (then they
            must not be set).
    """

    def __init__(self,
                 subcarrier_axis: Optional[int] = None,
                 packet_axis=_DEFAULT,
                 median_size=3,
                 uniform_size=3,
                 unwrap: bool = True,
                 view_shape: Optional[Sequence[int]] = None,
                 layout=None) -> None:
        if layout is not None:
            if subcarrier_axis is not None or packet_axis is not _DEFAULT or \
                    view_shape is not None:
                raise ValueError('CSIPhaseSanitize: give a layout or subcarrier_axis / '
                                 'packet_axis / view_shape, not both')
            kwargs = parse_layout(layout).sanitize_kwargs()
            subcarrier_axis, packet_axis = kwargs['subcarrier_axis'], kwargs['packet_axis']
            view_shape = kwargs.get('view_shape')
        subcarrier_axis = 1 if subcarrier_axis is None else subcarrier_axis
        packet_axis = 2 if packet_axis is _DEFAULT else packet_axis
        if packet_axis is not None and packet_axis == subcarrier_axis:
            raise ValueError('`packet_axis` and `subcarrier_axis` must differ, both are '
                             f'{subcarrier_axis}')
        self.subcarrier_axis = subcarrier_axis
        self.packet_axis = packet_axis
        self.median_size = _filter_sizes(median_size, 'median_size')
        self.uniform_size = _filter_sizes(uniform_size, 'uniform_size')
        self.unwrap = unwrap
        self.view_shape = _optional_shape(view_shape, 'view_shape')

    def sanitize(self, phase: np.ndarray) -> np.ndarray:
        """Sanitise one phase array (axes as configured); returns float64."""
        phi = np.asarray(phase, dtype=np.float64)
        f_axis = self.subcarrier_axis
        if self.unwrap:
            phi = np.unwrap(phi, axis=f_axis)
        for sizes, filt in ((self.median_size, ndimage.median_filter),
                            (self.uniform_size, ndimage.uniform_filter)):
            windows = {f_axis: sizes[0]}
            if self.packet_axis is not None:
                windows[self.packet_axis] = sizes[1]
            phi = _smooth(phi, windows, filt)
        num_sub = phi.shape[f_axis]
        a0 = phi.mean(axis=f_axis, keepdims=True)
        if num_sub < 2:
            return phi - a0
        first = np.take(phi, [0], axis=f_axis)
        last = np.take(phi, [num_sub - 1], axis=f_axis)
        a1 = (last - first) / (2 * np.pi * num_sub)
        f = np.arange(1, num_sub + 1, dtype=np.float64)
        x_f = 2 * np.pi * num_sub * (f - (num_sub + 1) / 2) / (num_sub - 1)
        bshape = [1] * phi.ndim
        bshape[f_axis] = num_sub
        return phi - (a1 * x_f.reshape(bshape) + a0)

    def transform(self, results: dict) -> dict:
        """Sanitise ``results['csi_phase']`` in place.

        Args:
            results (dict): Result dict with ``csi_phase`` of shape ``S``.

        Returns:
            dict: ``results`` with the sanitised float32 ``csi_phase``.
        """
        path = results.get('csi_path', '<unknown file>')
        if 'csi_phase' not in results:
            raise KeyError(f'CSIPhaseSanitize needs results["csi_phase"] ({path}); run '
                           'LoadCSIFromFile first')
        phase = np.asarray(results['csi_phase'])
        orig_shape = phase.shape
        if self.view_shape is not None:
            if phase.size != int(np.prod(self.view_shape)):
                raise ValueError(f'CSI file {path}: cannot view phase of shape {orig_shape} '
                                 f'as {self.view_shape}')
            phase = phase.reshape(self.view_shape)
        for name, axis in (('subcarrier_axis', self.subcarrier_axis),
                           ('packet_axis', self.packet_axis)):
            if axis is not None and not -phase.ndim <= axis < phase.ndim:
                raise ValueError(f'CSI file {path}: {name}={axis} is out of range for a '
                                 f'phase of shape {phase.shape}')
        results['csi_phase'] = self.sanitize(phase).reshape(orig_shape).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(subcarrier_axis={self.subcarrier_axis}, '
                f'packet_axis={self.packet_axis}, median_size={self.median_size}, '
                f'uniform_size={self.uniform_size}, unwrap={self.unwrap}, '
                f'view_shape={self.view_shape})')


@TRANSFORMS.register_module()
class PackCSI(BaseTransform):
    """Stack amplitude and phase into ``results['csi']`` of shape ``(2, *S)``.

    ``PackDensePoseInputs`` moves ``results['csi']`` into ``inputs['csi']``.

    Args:
        keys (Sequence[str]): The two keys to stack, in order.
            Defaults to ``('csi_amplitude', 'csi_phase')``.
        out_key (str): Output key. Defaults to 'csi'.
    """

    def __init__(self,
                 keys: Sequence[str] = ('csi_amplitude', 'csi_phase'),
                 out_key: str = 'csi') -> None:
        if len(keys) != 2:
            raise ValueError(f'`keys` must name amplitude and phase, got {keys!r}')
        self.keys = tuple(keys)
        self.out_key = out_key

    def transform(self, results: dict) -> dict:
        """Stack the two arrays.

        Args:
            results (dict): Result dict with both ``keys`` (shape ``S``).

        Returns:
            dict: ``results`` with ``out_key`` (2, *S) float32.
        """
        path = results.get('csi_path', '<unknown file>')
        missing = [k for k in self.keys if k not in results]
        if missing:
            raise KeyError(f'PackCSI: results lack {missing} ({path})')
        amp, phase = (np.asarray(results[k], dtype=np.float32) for k in self.keys)
        if amp.shape != phase.shape:
            raise ValueError(f'CSI file {path}: cannot stack {self.keys[0]} {amp.shape} and '
                             f'{self.keys[1]} {phase.shape}')
        results[self.out_key] = np.ascontiguousarray(np.stack([amp, phase]))
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(keys={self.keys}, out_key={self.out_key!r})'
