# %% [markdown]
# # 文章:优化器对比实验(好莱坞明星识别)
#
# 只有一千多张照片,从头训练一个大网络很难学好。**迁移学习**借用在 ImageNet 上训练好的 VGG16:
# 它的卷积层已经学会了提取边缘、纹理、形状这些通用的特征,我们把这些层**冻结**(参数不再更新),
# 只在上面训练一个新的分类头。文章的分类头是:全局平均池化 → Dense(170, ReLU) → BatchNorm →
# Dropout(0.5) → Dense(17 个明星)。同一个模型分别用 Adam 和 SGD(Keras 的默认学习率:Adam 0.001,
# SGD 0.01)训练 50 轮,比较两条学习曲线。
#
# 明星照片不在仓库里:默认用 scikit-learn 自带的手写数字图片(每个类别一个文件夹)代替,
# 把 `DATA` 换成自己的图片文件夹就是文章的实验。
#
# 本笔记本由 `course/notebooks/article_filmstar_transfer.py` 生成(`python scripts/make_notebooks.py`),
# 命令行版本是 `python scripts/filmstar_transfer.py`。

# %%
import os, sys, pathlib  # 找到项目(当前目录或它的上级,或 AI Studio 的 ~/work/*),装上缺少的依赖,选择设备
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import demo_digits, setup, show
DEVICE = setup()

# %% [markdown]
# 文章的尺寸(336×336,50 轮)要用 GPU;在 CPU 上可以先用 `IMAGE_SIZE = 32`、少几轮。
# ImageNet 权重第一次使用时下载到 `~/.cache/paddle/hapi/weights`;不能下载时,把 `PRETRAINED`
# 设为一个 `.pdparams` 文件,或 `"none"`(随机初始化,准确率会低得多)。

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行(自动测试用它)
DATA = "demo_images/digits"   # 每个类别一个子文件夹的图片;不存在时导出演示数字到这里
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
PRETRAINED = "none" if QUICK else "imagenet"   # "imagenet"、一个 .pdparams 文件或 "none"
IMAGE_SIZE = 32 if QUICK else 336
EPOCHS = 1 if QUICK else 50
BATCH_SIZE = 16
PER_CLASS = 8 if QUICK else None       # 导出演示数字时每个类别几张(None = 全部)
JOBS = 1 if QUICK or DEVICE != "cpu" else os.cpu_count()   # 同时训练几个运行(GPU 上为 1)

# %% [markdown]
# ## 冻结的 VGG16 和新的分类头
#
# 项目的 `vgg16_transfer` 是 VGG16 的 13 个卷积层(Keras 的层名,可以装 ImageNet 权重)加文章的
# 分类头。下面把分类头换成自己写的 `Head`:改一改隐藏层的大小或 Dropout 试试。

# %%
import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from course.chapters.article_filmstar_transfer import ARMS, MODEL, SPLIT_SEED, VALIDATION_SPLIT
from course.chapters.common import resolve_pretrained
from data.folders import make_loaders
from models import build_model


class Head(nn.Layer):
    def __init__(self, num_classes, hidden=170):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2D(1)            # Keras 的 pooling='avg'
        self.fc = nn.Linear(512, hidden)
        self.bn = nn.BatchNorm1D(hidden)
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, features):
        x = paddle.flatten(self.pool(features), 1)
        return self.out(self.dropout(self.bn(F.relu(self.fc(x)))))


data = demo_digits(DATA, PER_CLASS)
loaders = make_loaders(data, image_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=BATCH_SIZE,
                       validation_split=VALIDATION_SPLIT, seed=SPLIT_SEED)
classes = loaders["classes"]
pretrained = resolve_pretrained(MODEL, PRETRAINED)
paddle.seed(0)
model = build_model(MODEL, num_classes=len(classes), image_size=IMAGE_SIZE, pretrained=pretrained or None)
model.head = Head(len(classes))
trainable = sum(p.size for p in model.parameters() if not p.stop_gradient)
total = sum(p.size for p in model.parameters())
print(f"{len(classes)} 个类别;参数 {total:,} 个,其中可训练的 {trainable:,} 个(分类头)")

# %% [markdown]
# ## 训练分类头
#
# 优化器只拿到可训练的参数;冻结的卷积层在 `model.train()` 时也保持推理模式。训练之后检查:
# 卷积层的参数一个也没变,分类头的变了。

# %%
from course.engine.trainer import evaluate

backbone_before = {k: v.numpy().copy() for k, v in model.backbone.state_dict().items()}
head_before = {k: v.numpy().copy() for k, v in model.head.state_dict().items()}
opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=[p for p in model.parameters() if not p.stop_gradient])
for epoch in range(EPOCHS):
    model.train()
    for images, labels in loaders["train"]:
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
    val_loss, val_acc = evaluate(model, loaders["val"])
    print(f"epoch {epoch + 1}: loss {float(loss):.4f},验证集准确率 {val_acc:.2%}")
backbone_unchanged = all(np.array_equal(v.numpy(), backbone_before[k]) for k, v in model.backbone.state_dict().items())
head_changed = any(not np.array_equal(v.numpy(), head_before[k]) for k, v in model.head.state_dict().items())
print(f"卷积层没变: {backbone_unchanged};分类头变了: {head_changed}")

# %% [markdown]
# ## 文章的实验:Adam 对 SGD
#
# 两次训练各有自己的运行目录(配置、每轮指标、VisualDL 记录、模型);最后打印对比表、画出曲线。

# %%
from IPython.display import Markdown, display

from course.chapters.common import run_and_report
from course.cli import Launch
from course.engine.config import RunConfig
from course.sweep.grid import Sweep

base = RunConfig(dataset=f"folder:{data}", model=MODEL, image_size=IMAGE_SIZE, epochs=EPOCHS, batch_size=BATCH_SIZE,
                 validation_split=VALIDATION_SPLIT, split_seed=SPLIT_SEED, pretrained=pretrained,
                 freeze_backbone=True, device=DEVICE, defaults="keras")   # Keras 的 Adam() 和 SGD()
sweep = Sweep(base, ARMS, logdir=LOGDIR)
report = run_and_report(sweep, Launch(jobs=JOBS, progress=False, overwrite=True),
                        title=f"{sweep.root.name}: frozen VGG16, Adam vs SGD (article 001)")
final_acc = {run["run"]: run["final_val_acc"] for run in report["runs"]}
display(Markdown(report["table"]))
show(report["curves"])
