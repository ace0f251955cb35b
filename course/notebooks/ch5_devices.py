# %% [markdown]
# # 手写数字识别之资源配置
#
# 同一个模型可以在 CPU 上训练,也可以在一块或几块 GPU 上训练。飞桨用一行 `paddle.set_device`
# 选择设备;多块卡(或多个进程)一起训练时,用**数据并行**:每个进程都有一份同样的模型,各自算
# 每个批次中属于自己的那一份数据的梯度,`paddle.DataParallel` 在 `loss.backward()` 里把各进程的
# 梯度取平均,所以每个进程的参数始终相同。
#
# 本笔记本由 `course/notebooks/ch5_devices.py` 生成(`python scripts/make_notebooks.py`),
# 命令行版本是 `python scripts/ch5_devices.py`。

# %%
import os, sys, pathlib  # 找到项目(当前目录或它的上级,或 AI Studio 的 ~/work/*),装上缺少的依赖,选择设备
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import mnist_splits, setup
DEVICE = setup()

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行(自动测试用它)
DATASET = "mnist"             # "mnist" 或 "mnist:<课程的 mnist.json.gz>"
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
EPOCHS = 1 if QUICK else 2
SUBSET = 512 if QUICK else 10_000      # 训练图片数(0 = 全部 50,000 张)
VAL_SUBSET = 200 if QUICK else 0       # 验证图片数(0 = 全部 10,000 张)
PROCESSES = 2                          # 数据并行的进程数(有几块 GPU 就可以用几个)
TIMED_BATCHES = 5 if QUICK else 50     # 每种设备上计时的批次数

# %% [markdown]
# ## 选择设备
#
# `paddle.set_device('cpu')` 或 `paddle.set_device('gpu:0')`,之后创建的张量和模型都放在那个设备上。
# (课程原文写的是 `with fluid.dygraph.guard(place=fluid.CUDAPlace(0)):`,飞桨 3 里已经没有了,
# 见 [docs/fluid_to_paddle3.md](../../docs/fluid_to_paddle3.md)。)
# 只装了 CPU 版飞桨(`paddlepaddle`)时没有 GPU;要用 GPU 得装 `paddlepaddle-gpu`,AI Studio 的
# GPU 环境已经装好了。下面打印飞桨看到的设备,然后在每一种可用的设备上训练几个批次、计时。

# %%
import time

import paddle
import paddle.nn.functional as F

from course.chapters.ch5_devices import device_report
from course.engine.device import gpu_count
from data.mnist import load_data
from models import build_model

device_lines = device_report()
print("\n".join(device_lines))

splits = mnist_splits(DATASET, SUBSET, VAL_SUBSET)
images_per_second = {}
for device in ["cpu"] + [f"gpu:{i}" for i in range(gpu_count())]:
    paddle.set_device(device)
    paddle.seed(0)
    model = build_model("lenet")           # 课程的卷积网络(第 4 节把它写了出来)
    opt = paddle.optimizer.Adam(learning_rate=0.001, parameters=model.parameters())
    batches = list(load_data("train", batch_size=64, splits=splits, seed=0)())[:TIMED_BATCHES]
    start = time.perf_counter()
    for images, labels in batches:
        loss = F.cross_entropy(model(paddle.to_tensor(images)), paddle.to_tensor(labels))
        loss.backward()
        opt.step()
        opt.clear_grad()
    float(loss)                             # 等设备算完再停表
    images_per_second[device] = sum(len(x) for x, _ in batches) / (time.perf_counter() - start)
    print(f"{device}: {images_per_second[device]:,.0f} 张图片/秒")
paddle.set_device(DEVICE)

# %% [markdown]
# ## 多进程数据并行
#
# 每个进程运行同一段训练代码,只多三步:
#
# ```python
# import paddle.distributed as dist
# dist.init_parallel_env()                 # 1. 初始化进程间通信(GPU 用 NCCL,CPU 用 gloo)
# model = paddle.DataParallel(model)       # 2. 包装模型:backward() 时对各进程的梯度取平均
# sampler = paddle.io.DistributedBatchSampler(dataset, batch_size=64, shuffle=True)
# loader = paddle.io.DataLoader(dataset, batch_sampler=sampler)   # 3. 每个进程只读自己那一份
# ```
#
# 启动多个进程有两种方式:
#
# - 命令行:`python -m paddle.distributed.launch --gpus 0,1 train.py`(只有 CPU 时用
#   `--nproc_per_node 2`),启动器把脚本运行 N 遍,见 `scripts/train_distributed.py`;
# - 在程序里:`paddle.distributed.spawn(train, nprocs=2)`,下面就是这样做的。
#
# 下面用同样的设置训练两次:一个进程,和 `PROCESSES` 个进程的数据并行。每个进程算一个批次的
# 1/N,梯度平均之后的更新和一个进程算整个批次相同,所以两次的损失和准确率应当几乎一样。
# 在只有两个核的 CPU 上多进程并不更快(进程间交换梯度的开销比省下的计算多),
# 多块 GPU 时才会明显加速。

# %%
from course import compat
from course.chapters.ch5_devices import train
from course.engine.config import RunConfig

config = RunConfig(dataset=DATASET, model="lenet", optimizer="adam", lr=0.001, epochs=EPOCHS, subset=SUBSET,
                   val_subset=VAL_SUBSET, device=DEVICE)
results = {}
if not compat.spawns_in_this_process():   # 飞桨 2.6 在 notebook 里启动子进程会崩溃;命令行脚本可以
    print("Paddle 2.6: spawned processes crash inside a notebook kernel; run "
          "`python scripts/ch5_devices.py --processes 2` in a terminal for the data-parallel run")
for processes in [1, PROCESSES] if compat.spawns_in_this_process() else [1]:
    run_dir = pathlib.Path(LOGDIR) / "ch5-devices" / f"{config.run_name()}-{processes}proc"
    result = train(config, run_dir, processes, progress=False)
    results[processes] = {key: result[key] for key in ("final_val_loss", "final_val_acc", "train_seconds")}
    print(f"{processes} 个进程:验证集损失 {result['final_val_loss']:.6f},准确率 {result['final_val_acc']:.2%},"
          f"训练 {result['train_seconds']:.1f} 秒")
