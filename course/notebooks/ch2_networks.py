# %% [markdown]
# # 手写数字识别之网络结构
#
# 数据准备好之后,这一节搭建识别手写数字的网络。我们从最基础的**前馈神经网络**开始:
# 输入层、隐藏层、输出层,每层神经元只和相邻层相连,信息从输入一层层向前传到输出。
# 然后一步步改进它:调学习率、把 sigmoid 换成 ReLU、加一个隐藏层、加正则化,
# 看每一步让验证集准确率提高多少。
#
# 本笔记本由 `course/notebooks/ch2_networks.py` 生成(`python scripts/make_notebooks.py`),
# 命令行版本是 `python scripts/ch2_networks.py`。

# %%
import os, sys, pathlib  # 找到项目(当前目录或它的上级,或 AI Studio 的 ~/work/*),装上缺少的依赖,选择设备
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents, *pathlib.Path.home().glob("work/*")) if (p / "course/chapters/notebook.py").is_file()][:1]
from course.chapters.notebook import mnist_splits, setup, show
DEVICE = setup()

# %% [markdown]
# 课程的设置是 SGD、10 轮、每批 32 张、全部 50,000 张训练图片。`QUICK = True` 只用一千张图片训练
# 两轮(自动测试用它)。

# %% tags=["parameters"]
QUICK = False                 # True: 几秒钟的小规模运行
DATASET = "mnist"             # "mnist" 或 "mnist:<课程的 mnist.json.gz>"
LOGDIR = "runs/notebooks"     # 运行目录(相对项目根目录)
EPOCHS = 2 if QUICK else 10
BATCH_SIZE = 32
SUBSET = 1000 if QUICK else 0          # 训练图片数(0 = 全部)
VAL_SUBSET = 500 if QUICK else 0       # 验证图片数(0 = 全部 10,000 张)
JOBS = 1 if QUICK or DEVICE != "cpu" else os.cpu_count()   # 同时训练几个运行(GPU 上为 1)

# %% [markdown]
# ## 前馈神经网络
#
# 每个神经元把输入加权求和,加上偏置,再经过一个**激活函数**。没有激活函数,多少层线性变换叠起来
# 仍然是一个线性变换;有了它,网络才能表示非线性的关系。两种常用的激活函数:
#
# - **sigmoid**:把任意数压到 0 到 1 之间;输入很大或很小时梯度接近 0,深层网络里梯度会越传越小。
# - **ReLU**:`max(0, x)`,正半轴的梯度恒为 1,训练更快,是现在的默认选择。
#
# 下面是课程的单隐藏层网络:784 个像素 → 500 个隐藏神经元 → 10 个类别的得分。改一改
# `activation`、隐藏层的大小,或再加一层(课程的多层网络是 784-512-256-10)。

# %%
import paddle
import paddle.nn.functional as F
from paddle.nn import Linear

from data.mnist import load_data


class MNIST(paddle.nn.Layer):
    def __init__(self, activation=F.sigmoid, hidden=500):
        super().__init__()
        self.fc1 = Linear(in_features=784, out_features=hidden)    # 隐藏层
        self.fc2 = Linear(in_features=hidden, out_features=10)     # 输出层:10 个类别的得分
        self.activation = activation

    def forward(self, inputs):
        x = paddle.flatten(inputs, 1)           # [N, 1, 28, 28] -> [N, 784]
        return self.fc2(self.activation(self.fc1(x)))


splits = mnist_splits(DATASET, SUBSET, VAL_SUBSET)
train_loader = load_data("train", batch_size=BATCH_SIZE, splits=splits, seed=0)
val_loader = load_data("valid", batch_size=100, splits=splits)

# %% [markdown]
# ## 训练和评估
#
# 训练循环每个批次做五件事:前向计算、计算交叉熵损失、反向传播、`opt.step()` 更新参数、
# `opt.clear_grad()` 清空梯度。每一轮结束在验证集上算一次准确率。

# %%
from course.engine.trainer import evaluate


def train(model, lr=0.1, epochs=EPOCHS):
    opt = paddle.optimizer.SGD(learning_rate=lr, parameters=model.parameters())
    for epoch in range(epochs):
        model.train()
        for batch_id, (images, labels) in enumerate(train_loader()):
            predicts = model(paddle.to_tensor(images))                # 前向计算
            loss = F.cross_entropy(predicts, paddle.to_tensor(labels))
            loss.backward()                                           # 反向传播
            opt.step()                                                # 更新参数
            opt.clear_grad()                                          # 清空梯度
        val_loss, val_acc = evaluate(model, val_loader())
        print(f"epoch {epoch}: loss {float(loss):.4f}, 验证集准确率 {val_acc:.2%}")
    return val_acc


hand_acc = {}
for name, activation in [("sigmoid", F.sigmoid), ("relu", F.relu)]:
    paddle.seed(0)
    print(name)
    hand_acc[name] = train(MNIST(activation))

# %% [markdown]
# ## 课程的五个网络
#
# 课程的结果表(SGD,10 轮,每批 32 张):
#
# | 网络 | 学习率 | L2 正则化 | 验证集准确率 |
# |---|---|---|---|
# | 784-500-10,sigmoid | 0.1 | 无 | 85.03% |
# | 784-500-10,sigmoid | 1.0 | 无 | 95.87% |
# | 784-500-10,ReLU | 0.1 | 无 | 96.18% |
# | 784-512-256-10,ReLU | 0.1 | 无 | 97.10% |
# | 784-512-256-10,ReLU | 0.1 | 5e-4 | 97.18% |
#
# 课程的网络最后有一个 `Softmax` 层,之后 `F.cross_entropy` 又做了一次 softmax:损失看到的是
# softmax(softmax(z)),梯度小得多——这正是 sigmoid 网络要用 1.0 的学习率才学得好的原因。
# 下面按课程的做法(`loss="double_softmax"`)训练这五行,再加一行只做一次 softmax 的 sigmoid 网络,
# 量出两次 softmax 的代价。每一行是一个运行目录,结果和课程的数字并排打印。
#
# 其余设置都和课程一样(数据、每轮重新打乱、保留最后不满 32 张的批次、`Linear` 的默认初始化、
# 报告最后一轮的验证集准确率)。第一行仍然对不上,原因在两次 softmax:外层 softmax 传给某个数字的
# 梯度要乘上这个数字自己的概率,一开始概率接近 0 的数字几乎得不到梯度,可能好几轮都学不会,
# 准确率于是一个台阶(约 10 个百分点)一个台阶地上升。学习率 0.1 时,10 轮后停在哪个台阶取决于随机
# 初始化:种子 0 到 5 依次是 81.74%、83.95%、84.05%、83.32%、84.16%、83.83%,每个都还有一个数字
# 完全没学会(种子 0 一个 6 也不预测,四个种子学不会 9)。学习率 1.0 也一样:种子 0 到 4 是
# 96.07%–96.40%,种子 5 只有 87.60%(5 一个也没认对)。课程没有设随机种子,它的 85.03% 也只是一次运行。

# %%
from IPython.display import Markdown, display

from course.chapters.ch2_networks import against_the_course, arms
from course.chapters.common import run_and_report
from course.cli import Launch
from course.engine.config import RunConfig
from course.sweep.grid import Sweep

base = RunConfig(dataset=DATASET, model="mlp500_sigmoid", epochs=EPOCHS, batch_size=BATCH_SIZE, subset=SUBSET,
                 val_subset=VAL_SUBSET, stop_at_chance=False, device=DEVICE)
sweep = Sweep(base, arms(), lrs=[0.1, 1.0], logdir=LOGDIR, folder="ch2-networks")
report = run_and_report(sweep, Launch(jobs=JOBS, progress=False, overwrite=True),
                        title="ch2-networks: the course's networks (网络结构)", summary=against_the_course)
final_acc = {run["run"]: run["final_val_acc"] for run in report["runs"]}
display(Markdown(report["table"]))
show(report["curves"])

# %% [markdown]
# ## 小结
#
# - 学习率太小,网络学得很慢:课程的 sigmoid 网络从 0.1 调到 1.0,准确率从 85% 升到 96%。
#   学得慢的网络结果也不稳:换一个随机种子,同样的设置可能差好几个百分点,比较之前先多跑几个种子。
# - ReLU 比 sigmoid 好训练;多一个隐藏层能再提高一点。
# - L2 正则化惩罚过大的权重,缩小训练集和验证集之间的差距(过拟合见第 6 节)。
# - 曲线和每个运行的指标都在上面打印的目录里;用 VisualDL 打开它,能把所有运行叠在一起比较。
