# %% [markdown]
# # 文章:训练模型——优化器(健身器材识别)
#
# 文章在五类健身器材的照片上微调一个在 ImageNet 上训练好的 DenseNet121(80×80,每批 32 张,
# 最多 30 轮),每次换一种优化器,比较准确率、损失和训练时间:
#
# | 优化器 | 学习率 | 文章里的 Keras 调用 |
# |---|---|---|
# | Adam + ReduceLROnPlateau | 1e-4 | `Adam(lr=1e-4)`,验证集损失 3 轮不降则学习率减半,最低 1e-5 |
# | AdaGrad | 0.01 | `Adagrad(lr=0.01)` |
# | RMSProp | 0.001 | `RMSprop(lr=0.001, rho=0.9)` |
# | Nadam | 0.002 | `Nadam(lr=0.002, schedule_decay=0.004)` |
# | SGD | 0.01 | `SGD(lr=0.01, momentum=0)` |
#
# 每次训练都用同样的数据增强(`ImageDataGenerator`:旋转 20°、平移 0.2、剪切 0.2、缩放 0.5)、
# EarlyStopping(验证集损失 5 轮不降就停)和 ModelCheckpoint(只保存最好的一轮)。
#
# 健身器材的照片不在仓库里:默认用 scikit-learn 自带的手写数字图片代替,把 `DATA` 换成自己的
# 图片文件夹(`train/`、`val/`、`test/` 三个子文件夹,或每个类别一个子文件夹)就是文章的实验。
#
# 本笔记本由 `course/notebooks/article_gym_optimizers.py` 生成(`python scripts/make_notebooks.py`),
# 命令行版本是 `python scripts/gym_optimizers.py`。

# %%
import os, sys, pathlib  # 找到项目(当前目录或它的上级,或 AI Studio 的 ~/work/*),装上缺少的依赖,选择设备
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import demo_digits, setup, show
DEVICE = setup()

# %% [markdown]
# 文章的尺寸要用 GPU;在 CPU 上可以先用 `IMAGE_SIZE = 32`、少几轮。ImageNet 权重第一次使用时下载到
# `~/.cache/paddle/hapi/weights`;不能下载时,把 `PRETRAINED` 设为一个 `.pdparams` 文件,或 `"none"`。

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行(自动测试用它)
DATA = "demo_images/digits"   # 图片文件夹;不存在时导出演示数字到这里
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
PRETRAINED = "none" if QUICK else "imagenet"   # "imagenet"、一个 .pdparams 文件或 "none"
MODEL = "mobilenet_v2" if QUICK else "densenet121"   # 文章:DenseNet121(QUICK 时换成小得多的 MobileNetV2)
IMAGE_SIZE = 32 if QUICK else 80
EPOCHS = 1 if QUICK else 30
BATCH_SIZE = 32
PER_CLASS = 4 if QUICK else None       # 导出演示数字时每个类别几张(None = 全部)
TRY_STEPS = 1 if QUICK else 5          # 手写循环里每种优化器训练几个批次
JOBS = 1 if QUICK or DEVICE != "cpu" else os.cpu_count()   # 同时训练几个运行(GPU 上为 1)

# %% [markdown]
# ## 数据增强
#
# 训练图片每次读出来都随机变一变(旋转、平移、剪切、缩放),模型见到的样子更多,不容易过拟合。
# 验证集和测试集不做增强。下面是同一张图片的 8 个随机版本。

# %%
import numpy as np

from course.engine.figures import label, plt, save_figure, style
from data.folders import load_image, make_loaders
from data.folders.augment import build_transforms

data = demo_digits(DATA, PER_CLASS)
augment, _ = build_transforms("keras_gym")
first = sorted(pathlib.Path(data).rglob("*.png"))[0]
with style():
    fig, axes = plt.subplots(1, 8, figsize=(12, 2))
    for ax in axes:
        ax.imshow(np.asarray(augment(load_image(first, (IMAGE_SIZE, IMAGE_SIZE)))).transpose(1, 2, 0))
        ax.axis("off")
    fig.suptitle(label("同一张图片的随机增强", "random augmentations of one image"))
    save_figure(fig, pathlib.Path(LOGDIR) / "gym-augment.png")
show(pathlib.Path(LOGDIR) / "gym-augment.png")

# %% [markdown]
# ## 五种优化器,一个训练循环
#
# 把文章里的 Keras 调用换成飞桨的:每种优化器从同一组初始参数出发,在同样的几个批次上训练,
# 看损失的变化。循环还是那五步:前向、损失、反向、`step`、`clear_grad`。
#
# 同一个名字在 Keras 和飞桨里默认值不同:Keras 的 epsilon 是 1e-7(飞桨 Adam 1e-8、AdaGrad 和
# RMSProp 1e-6),Keras 的 AdaGrad 累加器从 0.1 开始(飞桨从 0),RMSProp 的 rho 是 0.9(飞桨 0.95)。
# 下面把 Keras 的默认值写出来;文章的 `Nadam(schedule_decay=0.004)` 就是飞桨的 `momentum_decay=0.004`。
# 后面的完整实验用 `RunConfig(defaults="keras")` 得到同样的设置(`course/engine/optimizers.py`
# 列出三个框架的全部默认值,以及飞桨的类表达不了的细节)。

# %%
import paddle
import paddle.nn.functional as F

from course.chapters.article_gym_optimizers import ARMS
from course.chapters.common import resolve_pretrained
from models import build_model

loaders = make_loaders(data, image_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=BATCH_SIZE, augment="keras_gym")
classes = loaders["classes"]
pretrained = resolve_pretrained(MODEL, PRETRAINED)
paddle.seed(0)
model = build_model(MODEL, num_classes=len(classes), image_size=IMAGE_SIZE, pretrained=pretrained or None)
initial = {k: v.clone() for k, v in model.state_dict().items()}
optimizers = {   # Keras 的默认值:epsilon=1e-7,AdaGrad 的累加器从 0.1 开始
    "Adam(lr=1e-4)": lambda params: paddle.optimizer.Adam(learning_rate=1e-4, epsilon=1e-7, parameters=params),
    "Adagrad(lr=0.01)": lambda params: paddle.optimizer.Adagrad(learning_rate=0.01, epsilon=1e-7,
                                                                initial_accumulator_value=0.1, parameters=params),
    "RMSprop(lr=0.001, rho=0.9)": lambda params: paddle.optimizer.RMSProp(learning_rate=0.001, rho=0.9,
                                                                           epsilon=1e-7, parameters=params),
    "Nadam(lr=0.002)": lambda params: paddle.optimizer.NAdam(learning_rate=0.002, momentum_decay=0.004,
                                                             epsilon=1e-7, parameters=params),
    "SGD(lr=0.01)": lambda params: paddle.optimizer.SGD(learning_rate=0.01, parameters=params),
}
if not hasattr(paddle.optimizer, "NAdam"):   # 飞桨 2.6 没有 NAdam(3.0 才有)· Paddle 2.6 has no NAdam
    del optimizers["Nadam(lr=0.002)"]
batches = [batch for batch, _ in zip(loaders["train"], range(TRY_STEPS))]
hand_losses = {}
for name, make in optimizers.items():
    model.set_state_dict(initial)
    opt = make(model.parameters())
    model.train()
    losses = []
    for images, labels in batches:
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(float(loss))
    hand_losses[name] = losses
    print(f"{name:<28} 每个批次的损失 {[round(v, 4) for v in losses]}")

# %% [markdown]
# ## 文章的实验
#
# 五次完整的训练,各有自己的运行目录;最后按文章的格式打印每次的训练时间,再打印对比表、画出曲线。

# %%
from IPython.display import Markdown, display

from course.chapters.article_gym_optimizers import CHECKPOINT, EARLY_STOP, training_times
from course.chapters.common import run_and_report
from course.cli import Launch
from course.engine.config import RunConfig
from course.sweep.grid import Sweep

base = RunConfig(dataset=f"folder:{data}", model=MODEL, image_size=IMAGE_SIZE, epochs=EPOCHS, batch_size=BATCH_SIZE,
                 augment="keras_gym", early_stop=EARLY_STOP, checkpoint=CHECKPOINT,
                 pretrained=pretrained, device=DEVICE, defaults="keras")   # Keras 的优化器默认值
sweep = Sweep(base, ARMS, logdir=LOGDIR)
report = run_and_report(sweep, Launch(jobs=JOBS, progress=False, overwrite=True),
                        title=f"{sweep.root.name}: five optimizers on {MODEL} (article 000)",
                        summary=training_times)
train_seconds = {run["variant"]: run["train_seconds"] for run in report["runs"]}
display(Markdown(report["table"]))
show(report["curves"])
