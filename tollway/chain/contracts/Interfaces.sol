// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// The slices of each devnet protocol contract that the others call. Names, argument orders and
// semantics follow Livepeer's contracts so that off-chain code works against either.

interface IController {
    function owner() external view returns (address);
    function paused() external view returns (bool);
    function getContract(bytes32 _id) external view returns (address);
}

interface IRoundsManager {
    function currentRound() external view returns (uint256);
    function currentRoundInitialized() external view returns (bool);
    function blockHashForRound(uint256 _round) external view returns (bytes32);
}

interface IBondingManager {
    function setCurrentRoundTotalActiveStake() external;
    function updateTranscoderWithFees(address _transcoder, uint256 _fees, uint256 _round)
        external;
    function isActiveTranscoder(address _transcoder) external view returns (bool);
    function isRegisteredTranscoder(address _transcoder) external view returns (bool);
    function getTranscoderPoolSize() external view returns (uint256);
}

interface IMinter {
    function depositETH() external payable returns (bool);
    function trustedWithdrawETH(address payable _to, uint256 _amount) external;
    function trustedTransferTokens(address _to, uint256 _amount) external;
    function createReward(uint256 _fracNum, uint256 _fracDenom) external returns (uint256);
    function setCurrentRewardTokens() external;
}

interface ILivepeerToken {
    function transfer(address _to, uint256 _amount) external returns (bool);
    function transferFrom(address _from, address _to, uint256 _amount) external returns (bool);
    function mint(address _to, uint256 _amount) external;
}
