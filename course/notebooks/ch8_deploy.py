# %% [markdown]
# # 手写数字识别之动转静与部署
#
# 前面的训练都在**动态图**模式下:Python 一行一行地执行,写起来、调起来都方便。部署时我们希望
# 模型脱离训练它的 Python 代码运行(在服务器、手机上,甚至用 C++ 调用),而且跑得更快:这需要
# **静态图**,即一份描述整个计算过程的"程序"加上参数。飞桨的动转静把两者连起来:
#
# 1. `paddle.jit.to_static`:把动态图模型转成静态图,`InputSpec` 声明输入的形状和类型
#    (`None` 表示批次大小任意);
# 2. `paddle.jit.save`:保存成程序文件(飞桨 3.x 是 `.json`)和参数文件 `.pdiparams`;
# 3. `paddle.jit.load`:在没有模型类定义的代码里把它装回来,直接预测。
#
# 最后用它识别一张 PNG 图片里的数字,图片的预处理必须和训练数据一致。
#
# 本笔记本由 `course/notebooks/ch8_deploy.py` 生成(`python scripts/make_notebooks.py`),
# 命令行版本是 `python scripts/ch8_deploy.py`。

# %%
import os, sys, pathlib  # 找到项目(当前目录或它的上级,或 AI Studio 的 ~/work/*),装上缺少的依赖,选择设备
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import mnist_splits, setup, show
DEVICE = setup()

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行(自动测试用它)
DATASET = "mnist"             # "mnist" 或 "mnist:<课程的 mnist.json.gz>"
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
EPOCHS = 1
SUBSET = 1000 if QUICK else 10_000     # 训练图片数(0 = 全部 50,000 张)
VAL_SUBSET = 300 if QUICK else 0       # 验证图片数(0 = 全部 10,000 张)
DIGITS = 5                             # 写成 PNG 再识别的测试图片数

# %% [markdown]
# ## 先训练一个模型
#
# 用第 4 节的卷积网络和 Adam 训练一轮。训练引擎把最终的参数存在运行目录的 `model.pdparams` 里。

# %%
from course.engine.config import RunConfig
from course.engine.experiment import run_experiment

config = RunConfig(dataset=DATASET, model="lenet", optimizer="adam", lr=0.001, epochs=EPOCHS, subset=SUBSET,
                   val_subset=VAL_SUBSET, device=DEVICE)
folder = pathlib.Path(LOGDIR) / "ch8-deploy"
result = run_experiment(config, folder / config.run_name(), progress=False)
val_acc = result["final_val_acc"]
print(f"验证集准确率 {val_acc:.2%}")

# %% [markdown]
# ## 动转静并保存
#
# 把训练好的参数装进动态图模型,用 `paddle.jit.to_static` 转成静态图,再用 `paddle.jit.save` 保存。
# 保存前切到 `eval()` 模式,导出的程序就是预测时的程序(没有 dropout,批归一化用统计值)。
# `to_static` 会就地改写模型的 `forward`,所以转换的是另一个装了同样参数的实例,`model` 留作动态图对照。

# %%
import paddle
from paddle.static import InputSpec

from models import build_model

state = paddle.load(str(folder / config.run_name() / "model.pdparams"))
model, to_export = build_model("lenet"), build_model("lenet")
for net in (model, to_export):
    net.set_state_dict(state)
    net.eval()
static_model = paddle.jit.to_static(to_export, input_spec=[InputSpec([None, 1, 28, 28], "float32", "image")],
                                    full_graph=True)   # 整个 forward 转成一个静态图
prefix = folder / "inference" / "mnist"
paddle.jit.save(static_model, str(prefix))
exported = sorted(p.name for p in prefix.parent.iterdir())
print("导出的文件:", exported)

# %% [markdown]
# ## 装回来预测
#
# `paddle.jit.load` 只需要文件,不需要 `LeNet` 这个类。同一批测试图片,装回来的静态图和原来的
# 动态图给出的输出应当相同(只差浮点舍入)。

# %%
import numpy as np

splits = mnist_splits(DATASET)
test_images = splits.test.images[:100].reshape(-1, 1, 28, 28)
loaded = paddle.jit.load(str(prefix))
loaded.eval()
with paddle.no_grad():
    static_logits = loaded(paddle.to_tensor(test_images)).numpy()
    dygraph_logits = model(paddle.to_tensor(test_images)).numpy()
max_gap = float(np.abs(static_logits - dygraph_logits).max())
print(f"静态图和动态图的输出最多相差 {max_gap:.1e}")

# %% [markdown]
# ## 识别 PNG 图片里的数字
#
# 用户给的是图片文件。预处理要和训练数据完全一致:转成灰度、缩放到 28×28、像素值除以 256
# (MNIST 是黑底白字;白底黑字的照片要先反色)、整理成 `[1, 1, 28, 28]`。下面把几张测试图片写成
# PNG 文件,再一张张读回来识别。

# %%
from PIL import Image

from course.chapters.ch8_deploy import write_digits

paths = write_digits(splits.test.images[:DIGITS], splits.test.labels[:DIGITS], folder / "digits")
png_predictions = []
for path in paths:
    pixels = np.asarray(Image.open(path).convert("L").resize((28, 28)), dtype="float32")
    if pixels.mean() > 127:                         # 白底黑字:反色
        pixels = 255 - pixels
    image = (pixels / 256).reshape(1, 1, 28, 28)
    static_digit = int(loaded(paddle.to_tensor(image)).numpy().argmax())
    dygraph_digit = int(model(paddle.to_tensor(image)).numpy().argmax())
    label = int(path.stem.rsplit("-", 1)[-1])
    png_predictions.append({"file": path.name, "label": label, "static": static_digit, "dygraph": dygraph_digit})
    print(f"{path.name}: 识别为 {static_digit}")
show(paths[0])

# %% [markdown]
# 命令行里同样能做:`python scripts/export_model.py <运行目录>` 导出一个训练好的运行,
# `python scripts/predict.py 我的数字.png --export <运行目录>/export/model` 识别图片。
