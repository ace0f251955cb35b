# %% [markdown]
# # 手写数字识别之优化算法
#
# 前几节我们确定了数据处理、网络结构和损失函数,这一节来看训练的最后一环:**优化算法**,也就是
# 拿到梯度之后,参数该怎么更新。我们先用最朴素的 SGD 试三个学习率,体会学习率的作用;再在同一个
# 网络上比较 SGD、Momentum、AdaGrad、RMSProp 和 Adam 五种优化器;最后把它们放在二维的损失曲面上,
# 看每一种优化器走出的路径。
#
# 本笔记本由 `course/notebooks/ch4_optimizers.py` 生成(`python scripts/make_notebooks.py`),
# 对应的命令行版本是 `python scripts/compare_optimizers.py`。

# %%
import os, sys, pathlib  # 找到项目(当前目录或它的上级,或 AI Studio 的 ~/work/*),装上缺少的依赖,选择设备
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import mnist_splits, setup, show
DEVICE = setup()

# %% [markdown]
# 下面这个单元是实验的规模。`QUICK = True` 只用几百张图片跑几秒钟(自动测试用它);
# `QUICK = False` 是课程的规模。数据集 `"mnist"` 是真实的 MNIST(第一次使用时下载并缓存);
# 在 AI Studio 上也可以用课程自带的文件,例如 `DATASET = "mnist:/home/aistudio/work/mnist.json.gz"`。

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行
DATASET = "mnist"             # "mnist" 或 "mnist:<课程的 mnist.json.gz>"
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
EPOCHS = 1 if QUICK else 5    # 训练轮数 EPOCH_NUM
SUBSET = 600 if QUICK else 20_000      # 训练图片数(0 = 全部 50,000 张)
VAL_SUBSET = 300 if QUICK else 0       # 验证图片数(0 = 全部 10,000 张)
LRS = [0.01] if QUICK else [0.1, 0.01, 0.001]
JOBS = 1 if QUICK or DEVICE != "cpu" else os.cpu_count()   # 同时训练几个运行(GPU 上为 1)

# %% [markdown]
# ## 网络和数据
#
# 网络是课程的卷积网络(LeNet 风格):两层 5×5 卷积,每层后接 ReLU 和 2×2 最大池化,
# 最后一个全连接层输出 10 个类别的得分。数据用课程的 `load_data` 按批读取(每批 100 张,训练集每轮
# 重新打乱)。
#
# 课程原文的代码是飞桨 1.8 的 fluid 写法:`fluid.dygraph.guard()`、`Pool2D(pool_type='max')`、
# `Linear(act='softmax')`、`fluid.dygraph.to_variable`、`fluid.layers.cross_entropy` 加
# `fluid.layers.mean`、`SGDOptimizer(parameter_list=...)`、`minimize`、`fluid.save_dygraph`,
# 在飞桨 3 里都不能运行了。这里用的是飞桨 3 的写法;逐条对照,以及哪些调用的行为变了
# (例如新的 `F.cross_entropy` 自己做 softmax、自己求平均),见 [docs/fluid_to_paddle3.md](../../docs/fluid_to_paddle3.md)。

# %%
import paddle
import paddle.nn.functional as F
from paddle.nn import Conv2D, Linear, MaxPool2D

from data.mnist import load_data


class MNIST(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv1 = Conv2D(in_channels=1, out_channels=20, kernel_size=5, stride=1, padding=2)
        self.max_pool1 = MaxPool2D(kernel_size=2, stride=2)
        self.conv2 = Conv2D(in_channels=20, out_channels=20, kernel_size=5, stride=1, padding=2)
        self.max_pool2 = MaxPool2D(kernel_size=2, stride=2)
        self.fc = Linear(in_features=980, out_features=10)

    def forward(self, inputs):
        x = self.max_pool1(F.relu(self.conv1(inputs)))
        x = self.max_pool2(F.relu(self.conv2(x)))
        return self.fc(paddle.flatten(x, 1))   # 10 个得分(logits);softmax 在损失函数里


splits = mnist_splits(DATASET, SUBSET, VAL_SUBSET)
train_loader = load_data("train", batch_size=100, splits=splits, seed=0)
val_loader = load_data("valid", batch_size=100, splits=splits)
print(splits)

# %% [markdown]
# ## 学习率:SGD 试三个值
#
# SGD 每一步沿负梯度方向走 `学习率 × 梯度` 那么远。学习率太小,每步只挪一点点,训练很慢;
# 太大,则可能在最低点附近来回震荡,甚至越走越远。下面的训练循环就是课程里的五步:前向计算、
# 计算损失、反向传播、`opt.step()` 更新参数、`opt.clear_grad()` 清空梯度。改一改学习率,
# 看看损失下降的快慢。

# %%
from course.engine.trainer import evaluate


def train(model, opt, epochs=EPOCHS):
    model.train()
    for epoch in range(epochs):
        for batch_id, (images, labels) in enumerate(train_loader()):
            images, labels = paddle.to_tensor(images), paddle.to_tensor(labels)
            predicts = model(images)                    # 前向计算
            loss = F.cross_entropy(predicts, labels)    # 损失
            loss.backward()                             # 反向传播
            opt.step()                                  # 更新参数
            opt.clear_grad()                            # 清空梯度
            if batch_id % 100 == 0:
                print(f"epoch {epoch}, batch {batch_id}, loss {float(loss):.4f}")
    return evaluate(model, val_loader())   # (验证集平均损失, 准确率)


sgd_acc = {}
for lr in [0.01, 0.001, 0.1]:
    paddle.seed(0)
    model = MNIST()
    opt = paddle.optimizer.SGD(learning_rate=lr, parameters=model.parameters())
    val_loss, sgd_acc[lr] = train(model, opt)
    print(f"SGD lr={lr}: 验证集准确率 {sgd_acc[lr]:.2%}\n")

# %% [markdown]
# ## 五种优化器
#
# - **SGD**:只看当前这一批的梯度。
# - **Momentum**:把过去的梯度累积成"速度",方向一致时越走越快,来回震荡的分量互相抵消。
# - **AdaGrad**:按每个参数历史梯度平方和的平方根缩小它的学习率,梯度大的参数步子小。
# - **RMSProp**:同 AdaGrad,但用滑动平均代替累加,学习率不会一直变小。
# - **Adam**:Momentum 加 RMSProp,再做偏差修正,是最常用的默认选择。
#
# 在飞桨里换一种优化器只需换一行,例如
# `opt = paddle.optimizer.Adam(learning_rate=0.001, parameters=model.parameters())`。
# 下面把五种优化器和几个学习率的每一种组合都训练一遍(每个组合是一个运行目录,里面有配置、
# 每轮的指标、VisualDL 记录和模型),然后画出对比表和曲线。网络是上面同一个 LeNet
# (项目里的 `models.LeNet`,参数个数相同)。

# %%
from IPython.display import Markdown, display

from course.chapters.common import run_and_report
from course.cli import Launch
from course.engine.config import RunConfig
from course.sweep.grid import Sweep
from models import build_model

lenet_params = sum(p.size for p in build_model("lenet").parameters())
assert lenet_params == sum(p.size for p in MNIST().parameters()), "不是同一个网络"

base = RunConfig(dataset=DATASET, model="lenet", epochs=EPOCHS, subset=SUBSET, val_subset=VAL_SUBSET,
                 device=DEVICE)
sweep = Sweep(base, ["sgd", "momentum", "adagrad", "rmsprop", "adam"], LRS, logdir=LOGDIR)
report = run_and_report(sweep, Launch(jobs=JOBS, progress=False, overwrite=True), title=sweep.root.name)
final_acc = {run["run"]: run["final_val_acc"] for run in report["runs"]}
display(Markdown(report["table"]))
show(report["curves"], report["lr_sensitivity"])

# %% [markdown]
# 每个运行的曲线都用同样的标签(`train/loss`、`val/acc` ……)写进 VisualDL,可以叠在一张图上比较。
# 在 AI Studio 上,左侧"可视化"面板选择上面打印的目录即可;在自己的电脑上运行上面打印的
# `visualdl --logdir ...` 命令。

# %% [markdown]
# ## 优化器在损失曲面上的路径
#
# 课程用一张示意图展示各优化器在二维损失曲面上的走法。这里的图是真实计算出来的:两个坐标是一个
# 有两个元素的飞桨参数,曲面是它的一个表达式,每一步就是上面训练循环的前向、反向、`step`、
# `clear_grad`,用的也是同样的五个优化器。狭长的碗形曲面上,SGD 沿陡的方向来回震荡,
# Momentum 冲过头再回来,自适应的方法(AdaGrad、RMSProp、Adam)则按每个方向分别调整步长。
# 把 `SURFACE` 换成 `"rosenbrock"`、`"beale"`、`"saddle"` 或 `"rastrigin"` 再试试。

# %%
from course.tools.optimizer_paths import compare_paths, format_table
from course.tools.optimizer_paths_plot import plot_paths

SURFACE = "bowl"
paths = compare_paths(SURFACE)
print(format_table(paths))
outcomes = {f"{name} lr={lr:g}": path.outcome for lr, by_name in paths.items() for name, path in by_name.items()}
show(plot_paths(SURFACE, paths, sweep.root / f"paths_{SURFACE}.png"))

# %% [markdown]
# ## 小结
#
# - 学习率决定每一步走多远:太小学得慢,太大会震荡甚至发散。
# - 每种优化器有自己合适的学习率范围:SGD 喜欢较大的学习率,RMSProp 和 Adam 在 0.001 附近最好。
# - Momentum、AdaGrad、RMSProp、Adam 在合适的学习率下都比 SGD 收敛得快,这也是 Adam 成为
#   默认选择的原因。
