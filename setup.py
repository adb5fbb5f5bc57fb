from setuptools import find_packages, setup


def readme() -> str:
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def get_version() -> str:
    scope: dict = {}
    with open('mmdensekd/version.py', encoding='utf-8') as f:
        exec(compile(f.read(), 'mmdensekd/version.py', 'exec'), scope)
    return scope['__version__']


install_requires = [
    'torch>=2.0',
    'mmengine>=0.10,<1',
    'mmcv>=2.0,<2.2',
    'mmdet>=3.3,<3.4',
    'mmpose>=1.3,<1.4',
    'pycocotools',
    'numpy',
    'opencv-python-headless',
    'scipy',
    'h5py',
    'csiread',
    'isal',
]

setup(
    name='mmdensekd',
    version=get_version(),
    description='DensePose and keypoint estimation with teacher-student '
    '(and cross-modal WiFi) distillation for OpenMMLab',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests')),
    include_package_data=True,
    python_requires='>=3.8',
    install_requires=install_requires,
    extras_require={'tests': ['pytest', 'ruff'], 'tensorboard': ['tensorboard']},
    license='Apache License 2.0',
    zip_safe=False,
)
