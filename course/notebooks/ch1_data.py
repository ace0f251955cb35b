# %% [markdown]
# # 手写数字识别之数据处理
#
# 在工业实践中,我们面对的任务和数据千差万别,通常要自己编写适合当前任务的数据处理程序。
# 一般包括五个环节:
#
# - **读入数据**,并划分训练集、验证集和测试集;
# - **数据乱序**:每一轮训练前打乱样本的顺序;
# - **生成批次**:把样本按批次大小组织起来;
# - **数据校验**:机器校验和人工校验;
# - **异步读取**:读数据和训练同时进行。
#
# 本笔记本由 `course/notebooks/ch1_data.py` 生成(`python scripts/make_notebooks.py`),
# 命令行版本是 `python scripts/ch1_data.py`。

# %% [markdown]
# ## 环境准备
#
# 第一个代码单元让笔记本在打开它的地方就能运行:AI Studio(飞桨已预装,可能有 GPU,项目克隆或上传在
# `~/work/...` 下)或自己的电脑(仓库的检出)。它找到项目目录,只安装缺少的依赖(从不重装飞桨),
# 再选择设备。

# %%
import os, sys, pathlib  # 找到项目:当前目录或它的上级目录,或 ~/work/*(AI Studio)
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import mnist_path, setup, show
DEVICE = setup()

# %% [markdown]
# 数据集 `"mnist"` 是真实的 MNIST(第一次使用时下载,并写成课程的 `mnist.json.gz` 和一个快速缓存);
# 在 AI Studio 上可以直接读课程的文件,例如 `DATASET = "mnist:/home/aistudio/work/mnist.json.gz"`。
# `QUICK = True` 只读前几十个批次(自动测试用它)。

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行
DATASET = "mnist"             # "mnist" 或 "mnist:<课程的 mnist.json.gz>"
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
BATCH_SIZE = 100              # 课程的 BATCHSIZE
NUM_WORKERS = 1 if QUICK else 2          # 异步读取的子进程数
MAX_BATCHES = 20 if QUICK else None      # 计时只读这么多个批次(None = 一整轮)

# %% [markdown]
# ## 读入数据并划分数据集
#
# 课程的 `mnist.json.gz` 是一个 gzip 压缩的 JSON 文件,里面依次是训练集(50,000 张)、验证集
# (10,000 张)和测试集(10,000 张),每一部分是 `[图像列表, 标签列表]`,每张图像是 784 个
# 0 到 1 之间的数。项目的 `load_mnist` 第一次读它时做完检查,存成 NumPy 的缓存,之后零点几秒就能读完。

# %%
import numpy as np

from data.mnist import load_mnist

splits = load_mnist(path=mnist_path(DATASET))
train_set, val_set, eval_set = splits.train, splits.val, splits.test
imgs, labels = train_set
print(f"训练集 {len(imgs)} 张,验证集 {len(val_set.images)} 张,测试集 {len(eval_set.images)} 张")
print(f"一张图像: {imgs[0].shape} {imgs[0].dtype},取值 {imgs[0].min():.2f} ~ {imgs[0].max():.2f};它的标签: {labels[0]}")

# %% [markdown]
# ## 数据乱序与生成批次
#
# 先给样本编号,得到 `index_list`;每一轮训练前把它打乱,再按打乱后的顺序每 `BATCH_SIZE` 个样本
# 组成一个批次。**为什么要乱序?** 模型对最后见到的数据印象更深;如果样本总按同样的顺序出现,
# 最后几个批次的数据会让模型产生偏差。
#
# 生成器函数每调用一次就是一轮:用 `for images, labels in train_loader():` 逐批取出。
# 图像整理成卷积网络要的 `[N, 1, 28, 28]`,标签是 `[N, 1]`。

# %%
import random


def data_generator():
    index_list = list(range(len(imgs)))
    random.shuffle(index_list)                          # 数据乱序
    imgs_list, labels_list = [], []
    for i in index_list:
        imgs_list.append(np.reshape(imgs[i], [1, 28, 28]).astype("float32"))
        labels_list.append(np.reshape(labels[i], [1]).astype("int64"))
        if len(imgs_list) == BATCH_SIZE:                # 凑满一个批次就交出去
            yield np.array(imgs_list), np.array(labels_list)
            imgs_list, labels_list = [], []
    if imgs_list:                                       # 剩下不足一个批次的样本
        yield np.array(imgs_list), np.array(labels_list)


train_loader = data_generator
first_labels = [next(train_loader())[1][:8].ravel().tolist() for epoch in range(2)]
print("两轮的第一个批次的前 8 个标签:", first_labels, "(每轮的顺序不同)")

# %% [markdown]
# ## 数据校验
#
# 实际的数据可能标注不准、格式不一。读完之后要校验,一般有两种方式:
#
# - **机器校验**:用 `assert` 检查数据,例如图像和标签的个数是否一致;
# - **人工校验**:打印一个批次的形状,看它是否和设置的一致;再把图像画出来,看标签对不对。

# %%
assert len(imgs) == len(labels), f"length of train_imgs({len(imgs)}) should be the same as train_labels({len(labels)})"

images_seen = 0
for batch_id, (images, batch_labels) in enumerate(train_loader()):
    assert images.shape[1:] == (1, 28, 28) and len(images) == len(batch_labels) <= BATCH_SIZE
    if batch_id == 0:
        print(f"人工校验:第一个批次 images {images.shape} {images.dtype},labels {batch_labels.shape} {batch_labels.dtype}")
        digits = images[:16], batch_labels[:16]
    images_seen += len(images)
print(f"机器校验通过:一轮共 {batch_id + 1} 个批次,{images_seen} 张图像")

# %%
from course.chapters.ch1_data import check_batches, plot_digits, time_pass

figure = plot_digits(*digits, pathlib.Path(LOGDIR) / "ch1-data" / "digits.png")
show(figure)

# %% [markdown]
# ## 封装数据准备函数
#
# 上面的读入、乱序、分批和校验合在一起,就是课程的 `load_data(mode)`:它返回一个生成器函数,
# `mode='train'` 时每轮乱序,`'valid'` 和 `'eval'` 保持原来的顺序。项目里的 `data.mnist.load_data`
# 就是它,后面几章都用它读数据。下面对它做一遍完整的机器校验(形状、类型、取值范围、标签 0 到 9)。

# %%
from data.mnist import load_data

train_loader = load_data("train", batch_size=BATCH_SIZE, path=mnist_path(DATASET), seed=0)
checked = check_batches(train_loader, BATCH_SIZE)
print(checked)

# %% [markdown]
# ## 异步读取
#
# 上面的读取是同步的:读一批、训练一批,训练时读取在等,读取时训练在等。异步读取让子进程提前
# 准备好后面的批次,用一点内存换速度。飞桨的做法是两步:
#
# 1. 写一个 `paddle.io.Dataset` 的子类,实现 `__getitem__`(取第 i 个样本)和 `__len__`
#    (样本个数)——项目里的 `MnistDataset` 就是它;
# 2. 交给 `paddle.io.DataLoader`,由它乱序、组成批次,并用 `num_workers` 个子进程读取。
#
# MNIST 整个放得进内存,读取本来就快,所以这里异步读取并不更快;图像要从磁盘解码、要做数据增强时
# (后面的图像分类文章),它才显出作用。

# %%
import paddle

from data.mnist import MnistDataset

dataset = MnistDataset("train", path=mnist_path(DATASET))
async_loader = paddle.io.DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, num_workers=NUM_WORKERS)
images, batch_labels = next(iter(async_loader))
print(f"DataLoader 的一个批次: images {images.shape},labels {batch_labels.shape}")
seconds = {"load_data": time_pass(train_loader(), MAX_BATCHES),
           f"DataLoader, {NUM_WORKERS} workers": time_pass(async_loader, MAX_BATCHES)}
print(f"读{MAX_BATCHES or '一整轮的'}个批次的时间:", {name: f"{s:.2f} s" for name, s in seconds.items()})
