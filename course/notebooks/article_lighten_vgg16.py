# %% [markdown]
# # 文章:咖啡豆识别——在不影响准确率的前提下轻量化 VGG16
#
# 文章一层一层地写出 VGG16(Keras 的层名;四类咖啡豆、224×224 时共 134,276,932 个参数),用 Adam
# (1e-4)训练,最后留了一道探索题:**在不影响准确率的前提下轻量化模型**。参数都在哪里?
# 13 个卷积层只有约 1,470 万个参数;剩下的一亿多个在最后两个 4096 维的全连接层里。
# 所以最直接的办法是去掉它们:卷积之后做全局平均池化,直接接一个输出层。
#
# 这一节先手算参数,写出轻量的网络,然后把三个候选放在一起比较:参数量、计算量、CPU 上每张图片的
# 推理时间,以及短时间训练后的验证集准确率。
#
# 咖啡豆的照片不在仓库里:默认用 scikit-learn 自带的手写数字图片代替,把 `DATA` 换成自己的图片
# 文件夹就是文章的实验。
#
# 本笔记本由 `course/notebooks/article_lighten_vgg16.py` 生成(`python scripts/make_notebooks.py`),
# 命令行版本是 `python scripts/lighten_vgg16.py`。

# %%
import os, sys, pathlib  # 找到项目(当前目录或它的上级,或 AI Studio 的 ~/work/*),装上缺少的依赖,选择设备
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import demo_digits, setup
DEVICE = setup()

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行(自动测试用它)
DATA = "demo_images/digits"   # 每个类别一个子文件夹的图片;不存在时导出演示数字到这里
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
IMAGE_SIZE = 32               # 文章:224(在 CPU 上太慢)
EPOCHS = 1 if QUICK else 3    # 文章:20
PER_CLASS = 4 if QUICK else None       # 导出演示数字时每个类别几张(None = 全部)
MODELS = "vgg16_keras,vgg16_gap,mobilenet_v2"   # 比较的模型,第一个是基准

# %% [markdown]
# ## 手算参数
#
# 一个 3×3 卷积层有 `3 × 3 × 输入通道 × 输出通道` 个权重,再加每个输出通道一个偏置;全连接层有
# `输入 × 输出` 个权重加 `输出` 个偏置。VGG16 的 5 个块经过 5 次 2×2 池化,图片边长变成 1/32,
# 所以 `fc1` 的输入是 `512 × (边长/32)²`:它随图片尺寸变大而变大,卷积层的参数却和尺寸无关。

# %%
from data.folders import find_classes

data = demo_digits(DATA, PER_CLASS)
num_classes = len(find_classes(data))
BLOCKS = [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]     # 每个块:卷积层数,输出通道数
conv_params, channels = 0, 3
for convs, out_channels in BLOCKS:
    for _ in range(convs):
        conv_params += 3 * 3 * channels * out_channels + out_channels
        channels = out_channels
side = IMAGE_SIZE // 32
dense_params = (512 * side * side * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * num_classes + num_classes)
gap_params = 512 * num_classes + num_classes
by_hand = {"vgg16_keras": conv_params + dense_params, "vgg16_gap": conv_params + gap_params}
print(f"卷积层 {conv_params:,};VGG16 的全连接层 {dense_params:,};全局平均池化 + 输出层 {gap_params:,}")
print({name: f"{n:,}" for name, n in by_hand.items()})

# %% [markdown]
# ## 轻量的 VGG16
#
# 同样的 13 个卷积层,最后换成全局平均池化 + 一个输出层。试着把 `BLOCKS` 里的通道数减半,
# 参数会变成大约四分之一。

# %%
import paddle
from paddle import nn

from models import build_model


class LightVGG16(nn.Layer):
    def __init__(self, num_classes, blocks=BLOCKS):
        super().__init__()
        layers, channels = [], 3
        for convs, out_channels in blocks:
            for _ in range(convs):
                layers += [nn.Conv2D(channels, out_channels, 3, padding=1), nn.ReLU()]
                channels = out_channels
            layers.append(nn.MaxPool2D(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.fc(paddle.flatten(self.pool(self.features(x)), 1))


light = LightVGG16(num_classes)
print("输出形状:", light(paddle.rand([2, 3, IMAGE_SIZE, IMAGE_SIZE])).shape)
counted = {"LightVGG16": sum(p.size for p in light.parameters())}
for name in by_hand:
    counted[name] = sum(p.size for p in build_model(name, num_classes=num_classes, image_size=IMAGE_SIZE).parameters())
print({name: f"{n:,}" for name, n in counted.items()})

# %% [markdown]
# ## 三个候选放在一起比
#
# 每个模型用 Adam(1e-4,Keras 的默认值:`--defaults keras`)训练 `EPOCHS` 轮(各有自己的运行目录和 VisualDL 记录),再在 CPU 上给
# 前向计算计时(先预热,取多次的中位数)。表里的 "vs" 列是相对第一个模型(文章的 VGG16)的倍数。

# %%
import csv

from IPython.display import Markdown, display

from course.chapters.article_lighten_vgg16 import main
from course.engine.config import dataset_label

flags = ["--data", data, "--image-size", str(IMAGE_SIZE), "--epochs", str(EPOCHS), "--models", MODELS,
         "--logdir", LOGDIR, "--no-progress"] + (["--timing-batches", "1,4", "--repeats", "2"] if QUICK else [])
main(flags)
out = pathlib.Path(LOGDIR) / f"{dataset_label('folder:' + data)}-lighten"
with open(out / "lighten.csv", newline="") as f:
    table = {row["model"]: {"params": int(row["params"]), "final_val_acc": row["final_val_acc"]}
             for row in csv.DictReader(f)}
display(Markdown((out / "lighten.md").read_text(encoding="utf-8")))

# %% [markdown]
# ## 小结
#
# - VGG16 的参数大部分在全连接层;换成全局平均池化,参数少了一大半,准确率基本不变。
# - MobileNetV2 用深度可分离卷积,参数和计算量都再小一个数量级,是为手机设计的网络。
# - 比较轻量化的效果要同时看参数量、计算量、实际的推理时间和准确率:参数少不一定就快。
